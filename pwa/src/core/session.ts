/**
 * The signed-in session: a small reactive store over the api client and the Dexie `session` row.
 *
 * On start the stored user is shown at once (works offline); GET /api/me then runs in the
 * background. Ending a session (logout, revoked device, expired refresh token) deletes only the
 * session row: other local data (later: unsent cases in the outbox) is never wiped here.
 */
import { reactive, readonly } from 'vue'
import { ApiClient } from './api'
import { db, type SessionRow } from './db'
import { getDeviceName, setDeviceName, setLastUsername } from './device'
import { ApiError, NetworkError } from './errors'
import type { AuthResponse, Tokens } from './types'
import type { User } from '../people/types'

interface SessionState {
  /** The stored session has been read (whether or not there was one). */
  restored: boolean
  user: User | null
  deviceName: string
  /** When the server last confirmed the user (epoch ms); null = shown from storage only. */
  userCheckedAt: number | null
  /** Why the last session ended, shown on the login page (e.g. 此设备已被管理员停用，请重新登录). */
  notice: string
  online: boolean
}

const state = reactive<SessionState>({
  restored: false,
  user: null,
  deviceName: getDeviceName(),
  userCheckedAt: null,
  notice: '',
  online: typeof navigator === 'undefined' ? true : navigator.onLine,
})

/** Read-only view for components; change it only through the functions below. */
export const session = readonly(state)

const KEY = 'current' as const
const REFRESH_LOCK = 'fengqiao-auth-refresh'

function tokensOf(row: SessionRow): Tokens {
  const { accessToken, accessExpiresAt, accessRefreshAt, refreshToken, refreshExpiresAt } = row
  return { accessToken, accessExpiresAt, accessRefreshAt, refreshToken, refreshExpiresAt }
}

export const api = new ApiClient({
  async onTokens(tokens, user) {
    const now = Date.now()
    await db.session.put({ key: KEY, ...tokens, user, deviceName: state.deviceName, userCheckedAt: now, savedAt: now })
    state.user = user
    state.userCheckedAt = now
  },
  async onSessionEnded(_reason, error) {
    await endLocalSession(error.message)
  },
  withLock:
    typeof navigator !== 'undefined' && navigator.locks
      ? <T>(fn: () => Promise<T>) => navigator.locks.request(REFRESH_LOCK, fn) as Promise<T>
      : undefined,
  async reloadTokens() {
    const row = await db.session.get(KEY)
    return row ? tokensOf(row) : null
  },
})

let signedOutHandler: (() => void) | null = null

/** The router registers here to go to the login page when the server ends the session. */
export function onSignedOut(fn: () => void): void {
  signedOutHandler = fn
}

let restoring: Promise<void> | null = null

/** Loads the stored session once; later calls return the same promise. Never throws. */
export function restoreSession(): Promise<void> {
  restoring ??= (async () => {
    try {
      const row = await db.session.get(KEY)
      if (row) {
        api.setTokens(tokensOf(row))
        state.user = row.user
        state.userCheckedAt = row.userCheckedAt
        state.deviceName = row.deviceName || state.deviceName
        void refreshMe()
      }
    } catch (e) {
      console.warn('session: could not read IndexedDB', e)
    } finally {
      state.restored = true
    }
  })()
  return restoring
}

/** Confirms the user with the server and stores any change. Offline is fine: keeps the stored user. */
export async function refreshMe(): Promise<void> {
  if (!api.signedIn) return
  try {
    const user = await api.me()
    const now = Date.now()
    state.user = user
    state.userCheckedAt = now
    await db.session.update(KEY, { user, userCheckedAt: now })
  } catch (e) {
    // NetworkError: offline, try later. 401s have already ended the session via onSessionEnded.
    if (!(e instanceof NetworkError) && !(e instanceof ApiError && e.status === 401)) {
      console.warn('session: GET /api/me failed', e)
    }
  }
}

/** Signs in; the whole answer is returned (the people domain reads `must_change_password`). */
export async function login(username: string, password: string, deviceName: string): Promise<AuthResponse> {
  const name = deviceName.trim() || getDeviceName()
  setDeviceName(name)
  state.deviceName = name
  const data = await api.login(username.trim(), password, name)
  state.notice = ''
  setLastUsername(username.trim())
  // Ask the browser not to evict our IndexedDB under storage pressure (unsent cases live there).
  if (typeof navigator !== 'undefined') void navigator.storage?.persist?.().catch(() => false)
  return data
}

/**
 * Signs out: tells the server when reachable, and always forgets the session on this phone.
 * Returns false when the server could not be told (offline); the admin can still revoke the device.
 */
export async function logout(): Promise<boolean> {
  // Later: refuse or confirm when the outbox still holds unsent items.
  let told = true
  try {
    await api.logout()
  } catch {
    told = false
  }
  await endLocalSession('')
  return told
}

async function endLocalSession(notice: string): Promise<void> {
  api.setTokens(null)
  try {
    await db.session.delete(KEY) // only the session row: nothing else local is touched
  } catch (e) {
    console.warn('session: could not delete the session row', e)
  }
  state.user = null
  state.userCheckedAt = null
  state.notice = notice
  signedOutHandler?.()
}

export function clearNotice(): void {
  state.notice = ''
}

if (typeof window !== 'undefined') {
  window.addEventListener('online', () => {
    state.online = true
    void refreshMe()
  })
  window.addEventListener('offline', () => {
    state.online = false
  })
}
