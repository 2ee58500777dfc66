/** The user as the server returns it (GET /api/me, and inside login/refresh responses). */
export type Role = 'mediator' | 'grid_worker' | 'team_leader' | 'township_supervisor' | 'county_admin' | 'leader'

export type ScopeLevel = 'county' | 'township' | 'village'

export interface Scope {
  level: ScopeLevel
  code: string
  name: string
}

export interface TeamRef {
  id: string | number
  name: string
}

export interface User {
  id: string | number
  username: string
  display_name: string
  role: Role
  /** Chinese label from the server; `roleLabel()` falls back to our own table. */
  role_label: string
  scope: Scope
  team: TeamRef | null
}
