/**
 * Who keeps their cases in IndexedDB. Field roles (mediators, grid workers, team leaders) work on a
 * phone, often without signal: their sync pull copies their scope's cases to the device. Township
 * supervisors and the county office work at a desk (DESIGN.md, Users) over a whole township or
 * county, tens of thousands of cases: their device keeps no copy and each screen fetches what it
 * shows from the API. The server applies the same rule to GET /api/sync/pull
 * (backend/sync/feed.py: keeps_offline_copy): every role but these two keeps a copy; a leader's is
 * only the cases in its charge (feed.offline_scope).
 */
import type { Role } from '../people/types'

export const DESK_ROLES: ReadonlySet<Role> = new Set<Role>(['township_supervisor', 'county_admin'])

export function keepsOfflineCopy(user: { role: Role } | null | undefined): boolean {
  return !!user && !DESK_ROLES.has(user.role)
}
