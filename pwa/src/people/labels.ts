import type { Role, ScopeLevel, User } from './types'

/** Fallback Chinese role names, used only when the server sends no role_label. */
export const ROLE_LABELS: Record<Role, string> = {
  mediator: '调解员',
  grid_worker: '网格员',
  team_leader: '调解队长',
  township_supervisor: '乡镇综治中心',
  county_admin: '县信联办',
}

export const SCOPE_LEVEL_LABELS: Record<ScopeLevel, string> = {
  county: '县',
  township: '乡镇',
  village: '村/社区',
}

export function roleLabel(user: User): string {
  return user.role_label || ROLE_LABELS[user.role] || user.role
}

/** Township supervisors and county admins: they see the map, the dashboard and the reports. */
export function isSupervisor(user: Pick<User, 'role'> | null | undefined): boolean {
  return user?.role === 'township_supervisor' || user?.role === 'county_admin'
}
