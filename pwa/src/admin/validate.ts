/** The console's checks before asking the server (which has the final say and the same rules). */
import { MIN_PASSWORD_LENGTH } from '../people/password'

export const USERNAME_RE = /^[a-z0-9._-]{3,32}$/
export const PHONE_RE = /^1\d{10}$/

export interface UserFields {
  /** null: not edited here (an existing account keeps its username). */
  username: string | null
  displayName: string
  phone: string
  password: string | null
  scopeCode: string
  teamRequired: boolean
}

export function fieldErrors(f: UserFields): Partial<Record<'username' | 'displayName' | 'phone' | 'password' | 'scopeCode' | 'team', string>> {
  const out: Partial<Record<'username' | 'displayName' | 'phone' | 'password' | 'scopeCode' | 'team', string>> = {}
  if (f.username !== null) {
    const u = f.username.trim()
    if (!u) out.username = '请填写用户名'
    else if (!USERNAME_RE.test(u)) out.username = '用户名只能用小写字母、数字和 . _ -，3–32 位'
  }
  if (!f.displayName.trim()) out.displayName = '请填写姓名'
  const phone = f.phone.trim()
  if (phone && !PHONE_RE.test(phone)) out.phone = phone.length !== 11 ? `手机号码应为 11 位（现在 ${phone.length} 位）` : '手机号码应以 1 开头，全为数字'
  if (f.password && f.password.length < MIN_PASSWORD_LENGTH) out.password = `密码至少 ${MIN_PASSWORD_LENGTH} 位`
  if (f.username !== null && f.password && f.password === f.username.trim()) out.password = '密码不能与用户名相同'
  if (!f.scopeCode) out.scopeCode = '请选择乡镇'
  if (f.teamRequired) out.team = '调解队长须选择所在调解队'
  return out
}
