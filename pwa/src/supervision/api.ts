/** The 督办 list (GET /api/supervision): the orders on the cases the user sees, red first. */
import { api } from '../core/session'
import type { Ref, SupervisionOrder } from '../cases/types'

export type SupervisionFilter = 'open' | 'overdue' | 'awaiting' | 'all'

export interface SupervisionItem {
  order: SupervisionOrder
  case: { id: string; number: string; title: string; state: string; township: Ref | null; owner_team: { id: number; name: string } | null }
}

export interface SupervisionPage {
  items: SupervisionItem[]
  counts: { open: number; overdue: number; awaiting: number }
}

export function listSupervision(status: SupervisionFilter): Promise<SupervisionPage> {
  return api.get<SupervisionPage>(`/supervision?status=${status}`)
}
