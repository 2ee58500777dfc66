import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { db } from './db'
import { api, onSignedOut, refreshMe, restoreSession, session } from './session'
import { tokensFrom } from './api'
import { MSG_DEVICE_REVOKED } from './errors'
import type { User } from '../people/types'

const USER: User = {
  id: 3,
  username: 'zhangsan',
  display_name: '张三',
  role: 'grid_worker',
  role_label: '网格员',
  scope: { level: 'township', code: '530524101000', name: '田园镇' },
  team: null,
}

afterEach(() => vi.unstubAllGlobals())

describe('session', () => {
  it('shows the stored user offline, and a revoked device ends only the session row', async () => {
    const now = Date.now()
    await db.session.put({
      key: 'current',
      ...tokensFrom(
        { access_token: 'a1', refresh_token: 'r1', token_type: 'bearer', expires_in: 900, refresh_expires_in: 2592000, user: USER },
        now,
      ),
      user: USER,
      deviceName: '手机-TEST',
      userCheckedAt: null,
      savedAt: now,
    })
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))

    await restoreSession()
    expect(session.user?.display_name).toBe('张三') // offline start: stored user at once
    expect(session.deviceName).toBe('手机-TEST')
    expect(api.signedIn).toBe(true)

    const signedOut = vi.fn()
    onSignedOut(signedOut)
    vi.stubGlobal(
      'fetch',
      vi.fn(async () =>
        new Response(JSON.stringify({ code: 'auth.device_revoked', message: '设备已停用', message_en: 'revoked' }), {
          status: 401,
          headers: { 'Content-Type': 'application/json' },
        }),
      ),
    )
    await refreshMe()

    expect(signedOut).toHaveBeenCalledOnce()
    expect(session.user).toBeNull()
    expect(session.notice).toBe(MSG_DEVICE_REVOKED)
    expect(await db.session.get('current')).toBeUndefined()
    expect(session.deviceName).toBe('手机-TEST') // the phone keeps its name for the next login
  })
})
