/**
 * The admin console's calls (contract: /work/notes/admin-api.md, backend/people, cases and visits
 * routes). Plain functions over the app's api client; every error is an ApiError with a Chinese
 * message the screens show as it is.
 */
import { api } from '../core/session'
import { ApiError } from '../core/errors'
import type { ApiClient } from '../core/api'
import type { Role } from '../people/types'

export interface Area {
  level: string
  code: string
  name: string
}

export interface AdminUser {
  id: number
  username: string
  display_name: string
  role: Role
  role_label: string
  scope: Area
  township: { code: string; name: string } | null
  team: { id: number; name: string } | null
  phone_masked: string | null
  active: boolean
  must_change_password: boolean
  created_at: string
  last_seen_at: string | null
  devices: number
  /** Only from GET /api/admin/users/{id} (the read is audited). */
  phone?: string | null
  /** Only right after creating without a password. */
  one_time_password?: string | null
}

export interface UserPage {
  items: AdminUser[]
  next_cursor: string | null
}

export interface UserFilter {
  q?: string
  township?: string
  team_id?: number | ''
  role?: Role | ''
  active?: '' | 'true' | 'false'
}

export interface UserCreate {
  username: string
  display_name: string
  role: Role
  scope_code: string
  team_id?: number | null
  phone?: string | null
  password?: string
}

export interface UserPatch {
  display_name?: string
  role?: Role
  scope_code?: string
  team_id?: number | null
  phone?: string | null
}

export type MemberKind = '老干部' | '老党员' | '老模范' | '律师' | '网格员'
export const MEMBER_KINDS: MemberKind[] = ['老干部', '老党员', '老模范', '律师', '网格员']

export interface TeamMember {
  id: number
  name: string
  kind: MemberKind
  is_leader: boolean
  user_id: number | null
}

export interface Team {
  id: number
  name: string
  township: Area | null
  villages: Area[]
  members: TeamMember[]
  leader: string | null
  active: boolean
}

export interface Division {
  code: string
  name: string
  level: 'county' | 'township' | 'village'
  parent_code: string | null
}

export interface Device {
  id: string
  user_id: number
  username: string
  name: string
  created_at: string
  last_seen_at: string | null
  revoked_at: string | null
  revoked_reason: string | null
  wipe_requested_at?: string | null
  wiped_at?: string | null
}

export interface RosterError {
  sheet: string
  row: number
  field: string
  code: string
  message: string
}

export interface RosterResult {
  teams_created: number
  teams_updated: number
  users_created: number
  users_updated: number
  errors: RosterError[]
  applied: boolean
  one_time_passwords_xlsx: string | null
}

export interface Category {
  code: string
  name: string
  national_category: string
  active: boolean
}

export interface Policy {
  level: string
  category: string | null
  offsets_days: number[]
  source: 'default' | 'custom' | string
}

export interface AuditEntry {
  id: number
  at: string
  user_id: number | null
  username: string | null
  device: string | null
  client_addr: string | null
  action: string
  case: string | null
  detail: Record<string, unknown>
}

export interface AuditFilter {
  case_id?: string
  user_id?: number | ''
  since?: string
  until?: string
  before_id?: number
  limit?: number
}

export const ROLE_OPTIONS: { value: Role; label: string; county: boolean }[] = [
  { value: 'mediator', label: '调解员', county: false },
  { value: 'grid_worker', label: '网格员', county: false },
  { value: 'team_leader', label: '调解队长', county: false },
  { value: 'township_supervisor', label: '乡镇管理员', county: true },
  { value: 'county_admin', label: '县级管理员', county: true },
  // 包案领导: a county leader (the whole county) or a township's leader; no team.
  { value: 'leader', label: '包案领导（县/乡镇领导）', county: true },
]

export const LEVELS: { value: string; label: string }[] = [
  { value: 'small', label: '小事' },
  { value: 'hard', label: '难事' },
  { value: 'big', label: '大事' },
]

/** `?a=1&b=2`, leaving out empty values. */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

export class AdminApi {
  constructor(private readonly client: ApiClient = api) {}

  // ---- users ----
  listUsers(f: UserFilter, cursor: string | null = null, limit = 50): Promise<UserPage> {
    return this.client.get(`/admin/users${query({ ...f, cursor, limit })}`)
  }
  getUser(id: number): Promise<AdminUser> {
    return this.client.get(`/admin/users/${id}`)
  }
  createUser(body: UserCreate): Promise<AdminUser> {
    return this.client.post('/admin/users', body)
  }
  updateUser(id: number, body: UserPatch): Promise<AdminUser> {
    return this.client.request('PATCH', `/admin/users/${id}`, { body })
  }
  setActive(id: number, active: boolean): Promise<AdminUser> {
    return this.client.post(`/admin/users/${id}/${active ? 'enable' : 'disable'}`)
  }
  resetPassword(id: number): Promise<{ one_time_password: string }> {
    return this.client.post(`/admin/users/${id}/reset-password`)
  }

  // ---- teams ----
  async listTeams(township = '', q = ''): Promise<Team[]> {
    try {
      return await this.client.get<Team[]>(`/admin/teams${query({ township, q })}`)
    } catch (e) {
      // A server from before issue 13 has only the assignable teams at /api/teams (no search).
      if (!isMissing(e)) throw e
      const teams = await this.client.get<Team[]>(`/teams${query({ township })}`)
      return teams.map((t) => ({ ...t, active: t.active ?? true })).filter((t) => !q || t.name.includes(q))
    }
  }
  createTeam(body: { name: string; township_code?: string; village_codes: string[]; members: Omit<TeamMember, 'id'>[] }): Promise<Team> {
    return this.client.post('/admin/teams', body)
  }
  updateTeam(id: number, body: { name?: string; village_codes?: string[]; active?: boolean }): Promise<Team> {
    return this.client.request('PATCH', `/admin/teams/${id}`, { body })
  }
  addMember(teamId: number, body: { name: string; kind: MemberKind; user_id?: number | null; is_leader?: boolean }): Promise<Team> {
    return this.client.post(`/admin/teams/${teamId}/members`, body)
  }
  /** Make an existing member the team's leader (the previous one stops being it), or not. */
  updateMember(teamId: number, memberId: number, body: { is_leader?: boolean; kind?: MemberKind }): Promise<Team> {
    return this.client.request('PATCH', `/admin/teams/${teamId}/members/${memberId}`, { body })
  }
  removeMember(teamId: number, memberId: number): Promise<void> {
    return this.client.request('DELETE', `/admin/teams/${teamId}/members/${memberId}`)
  }
  async divisions(township = ''): Promise<Division[]> {
    try {
      return await this.client.get<Division[]>(`/admin/divisions${query({ township })}`)
    } catch (e) {
      // Before issue 13: the active grid generation's townships and villages.
      if (!isMissing(e)) throw e
      const rows = await this.client.get<Division[]>(township ? `/regions${query({ parent: township })}` : '/regions?level=township')
      return rows.filter((r) => r.level === 'township' || r.level === 'village').map(({ code, name, level, parent_code }) => ({ code, name, level, parent_code }))
    }
  }

  // ---- devices ----
  listDevices(userId: number | null): Promise<Device[]> {
    return this.client.get(`/admin/devices${query({ user_id: userId })}`)
  }
  revokeDevice(id: string): Promise<void> {
    return this.client.post(`/admin/devices/${encodeURIComponent(id)}/revoke`)
  }
  wipeDevice(id: string): Promise<void> {
    return this.client.post(`/admin/devices/${encodeURIComponent(id)}/wipe`)
  }

  // ---- roster ----
  async rosterTemplate(): Promise<Blob> {
    const res = await this.client.raw('GET', '/admin/roster/template', { headers: { Accept: XLSX } })
    if (!res.ok) throw await ApiError.fromResponse(res)
    return res.blob()
  }

  // ---- categories (county) ----
  listCategories(): Promise<Category[]> {
    // include_inactive is the server's name today; all=1 is the contract's: both are sent.
    return this.client.get('/categories?include_inactive=true&all=1')
  }
  createCategory(body: Category | Omit<Category, 'active'>): Promise<Category> {
    return this.client.post('/categories', body)
  }
  updateCategory(code: string, body: Partial<Omit<Category, 'code'>>): Promise<Category> {
    return this.client.request('PATCH', `/categories/${encodeURIComponent(code)}`, { body })
  }

  // ---- visit policies (county) ----
  listPolicies(): Promise<Policy[]> {
    return this.client.get('/visit-policies')
  }
  setPolicy(body: { level: string; category: string | null; offsets_days: number[] }): Promise<Policy[]> {
    return this.client.request('PUT', '/visit-policies', { body })
  }
  deletePolicy(body: { level: string; category: string | null }): Promise<Policy[]> {
    return this.client.request('DELETE', '/visit-policies', { body })
  }

  // ---- audit (county) ----
  listAudit(f: AuditFilter): Promise<AuditEntry[]> {
    return this.client.get(`/audit${auditQuery(f)}`)
  }
  async auditXlsx(f: AuditFilter): Promise<Blob> {
    const res = await this.client.raw('GET', `/audit/export${auditQuery(f)}`, { headers: { Accept: XLSX } })
    if (!res.ok) throw await ApiError.fromResponse(res)
    return res.blob()
  }
}

/** 404/405: the endpoint is not on this server (yet). */
function isMissing(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 404 || e.status === 405)
}

export const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'

/** The audit log's filters as the server names them (case, user, since, until, before_id, limit). */
export function auditQuery(f: AuditFilter): string {
  return query({ case: f.case_id, user: f.user_id, since: f.since, until: f.until, before_id: f.before_id, limit: f.limit })
}

export const admin = new AdminApi()

/** base64 (the one-time passwords XLSX in the import answer) → a Blob to download. */
export function base64ToBlob(b64: string, type = XLSX): Blob {
  const bin = atob(b64)
  const bytes = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
  return new Blob([bytes], { type })
}

/** Hands a Blob to the browser as a download. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

/** 2026-12-03 14:05 in the county's time (without the year when `short` and it is this year), or '—'. */
export function when(iso: string | null | undefined, short = false): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const full = d.toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).replace(/\//g, '-')
  const year = new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' }).slice(0, 5)
  return short && full.startsWith(year) ? full.slice(5) : full
}

/** Today's date as YYYY-MM-DD in the county's time (file names). */
export function today(): string {
  return new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' })
}

/**
 * POST the roster file with upload progress (fetch cannot report it): XMLHttpRequest with the
 * session's bearer token. 0..1 while the bytes go, then the server checks every row.
 */
export async function importRoster(file: Blob, dryRun: boolean, onProgress: (fraction: number) => void, client: ApiClient = api): Promise<RosterResult> {
  await client.ensureFresh()
  const token = client.getTokens()?.accessToken
  return new Promise<RosterResult>((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `/api/admin/roster/import${dryRun ? '?dry_run=1' : ''}`)
    xhr.setRequestHeader('Content-Type', XLSX)
    xhr.setRequestHeader('Accept', 'application/json')
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total)
    }
    xhr.upload.onload = () => onProgress(1)
    xhr.onerror = () => reject(new ApiError(0, 'http.network', '网络不可用，上传失败，请重试。'))
    xhr.ontimeout = () => reject(new ApiError(0, 'http.timeout', '上传超时，请重试。'))
    xhr.timeout = 120_000
    xhr.onload = () => {
      const res = new Response(xhr.responseText, { status: xhr.status, headers: { 'Content-Type': 'application/json' } })
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as RosterResult)
        } catch {
          reject(new ApiError(xhr.status, 'http.bad_json', '服务器的回答无法读取，请重试。'))
        }
      } else {
        void ApiError.fromResponse(res).then(reject)
      }
    }
    xhr.send(file)
  })
}
