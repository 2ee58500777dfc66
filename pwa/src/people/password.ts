/**
 * Signing in with a one-time password (issued by an administrator or by `fengqiao init`): the server
 * answers every other route with 403 `auth.password_change_required` until a new password is set, so
 * the app shows only the "设置新密码" screen until then.
 *
 * The flag is kept in localStorage (with the username it belongs to) so a reload does not lose it; the
 * one-time password itself is kept only in memory, to fill the "old password" field once.
 */
import { reactive, readonly } from 'vue'
import { api } from '../core/session'
import type { ApiClient } from '../core/api'

export const AUTH_PASSWORD_CHANGE_REQUIRED = 'auth.password_change_required'
export const AUTH_WEAK_PASSWORD = 'auth.weak_password'
export const AUTH_WRONG_PASSWORD = 'auth.wrong_password'
export const AUTH_ACCOUNT_DISABLED = 'auth.account_disabled'
export const MSG_ACCOUNT_DISABLED = '账号已被停用，请联系管理员'
export const MIN_PASSWORD_LENGTH = 8

const KEY = 'fengqiao.mustChangePassword'

const state = reactive({ username: readStored(), oneTimePassword: '' })
export const passwordState = readonly(state)

function readStored(): string {
  try {
    return typeof localStorage === 'undefined' ? '' : (localStorage.getItem(KEY) ?? '')
  } catch {
    return ''
  }
}

function store(username: string): void {
  try {
    if (username) localStorage.setItem(KEY, username)
    else localStorage.removeItem(KEY)
  } catch {
    /* private mode: the server's 403 still brings the user back here */
  }
}

/** True while the signed-in user (by username) still has to replace a one-time password. */
export function mustChangePassword(username: string | null | undefined): boolean {
  return !!username && state.username === username
}

/** After sign-in: remember whether the password must be changed, and the password just typed. */
export function noteSignIn(username: string, mustChange: boolean, password: string): void {
  state.username = mustChange ? username : ''
  state.oneTimePassword = mustChange ? password : ''
  store(state.username)
}

/** The server said so (e.g. after a reload that lost the flag). */
export function requirePasswordChange(username: string): void {
  state.username = username
  store(username)
}

export function passwordChanged(): void {
  state.username = ''
  state.oneTimePassword = ''
  store('')
}

/** Why a new password would be refused, checked before asking the server (which has the final say). */
export function weakPasswordReason(password: string, username: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) return `密码至少 ${MIN_PASSWORD_LENGTH} 位。`
  if (username && password.toLowerCase() === username.toLowerCase()) return '密码不能与用户名相同。'
  if (/^(\d)\1+$/.test(password) || /^(.)\1+$/.test(password)) return '密码不能是同一个字符重复。'
  if ('0123456789012345678901234567890'.includes(password) || '9876543210987654321'.includes(password)) {
    return '密码不能是连续数字。'
  }
  return ''
}

/** POST /api/me/password, then a token refresh so nothing issued before the change is still used. */
export async function changePassword(oldPassword: string, newPassword: string, client: ApiClient = api): Promise<void> {
  await client.post<void>('/me/password', { old_password: oldPassword, new_password: newPassword })
  passwordChanged()
  try {
    await client.refresh()
  } catch {
    /* the current token keeps working until it expires; refreshing later is fine */
  }
}
