import type { Role, ScopeLevel, User } from './types'

/** Fallback Chinese role names, used only when the server sends no role_label. */
export const ROLE_LABELS: Record<Role, string> = {
  mediator: '调解员',
  grid_worker: '网格员',
  team_leader: '调解队长',
  township_supervisor: '乡镇综治中心',
  county_admin: '县信联办',
  leader: '包案领导',
}

export const SCOPE_LEVEL_LABELS: Record<ScopeLevel, string> = {
  county: '县',
  township: '乡镇',
  village: '村/社区',
}

export function roleLabel(user: User): string {
  return user.role_label || ROLE_LABELS[user.role] || user.role
}

/** Township supervisors and county admins: the admin console and the supervisor's whole toolset. */
export function isSupervisor(user: Pick<User, 'role'> | null | undefined): boolean {
  return user?.role === 'township_supervisor' || user?.role === 'county_admin'
}

/** A county or township leader (包案领导): reads its area, notes and supervises, logs no case. */
export function isAreaLeader(user: Pick<User, 'role'> | null | undefined): boolean {
  return user?.role === 'leader'
}

/** Who sees the map, the dashboard and the reports: supervisors and leaders (their area) and team
 *  leaders (their team's cases; the server scopes every figure). A plain mediator or grid worker does not. */
export function seesOverview(user: Pick<User, 'role'> | null | undefined): boolean {
  return isSupervisor(user) || isAreaLeader(user) || user?.role === 'team_leader'
}

/** Whether a signed-in user may open a route with these meta flags (the router sends the others home). */
export function mayOpen(meta: { supervisor?: boolean; overview?: boolean }, user: Pick<User, 'role'> | null | undefined): boolean {
  if (meta.supervisor && !isSupervisor(user)) return false
  return !(meta.overview && !seesOverview(user))
}
