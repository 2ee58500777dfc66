/** The home counts (待同步, 今日回访, 逾期, 我的在办, unread), computed from local data so they are right offline. */
import { reactive, watch } from 'vue'
import { db } from '../core/db'
import { session } from '../core/session'
import { localDate } from '../core/format'
import { sync } from '../sync/store'
import { OPEN_STATES } from '../cases/types'

export const counts = reactive({ dueToday: 0, overdue: 0, upcoming: 0, open: 0, unread: 0, toAccept: 0 })

export async function recount(): Promise<void> {
  const today = localDate()
  const visits = await db.visits.where('state').equals('pending').toArray()
  counts.dueToday = visits.filter((v) => v.dueDate === today).length
  counts.overdue = visits.filter((v) => v.dueDate < today).length
  counts.upcoming = visits.filter((v) => v.dueDate > today).length
  counts.open = await db.cases.filter((c) => c.state === 'draft' || OPEN_STATES.includes(c.state)).count()
  counts.unread = await db.inbox.filter((n) => !n.readAt).count()
  // A team leader's 待受理: the team's cases waiting for acceptance.
  const team = String(session.user?.team?.id ?? '-')
  counts.toAccept = await db.cases.filter((c) => c.state === 'reported' && String(c.view.owner_team?.id ?? '') === team).count()
}

let started = false
export function watchCounts(): void {
  if (started) return
  started = true
  watch(() => sync.tick, () => void recount(), { immediate: true })
}
