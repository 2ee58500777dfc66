/** Return visits (回访) as the phone keeps them. */

export type VisitMethod = 'in_person' | 'phone'
export type Satisfaction = 'satisfied' | 'basically_satisfied' | 'unsatisfied'

export interface VisitRecord {
  id: string
  caseId: string
  caseNumber: string
  caseTitle: string
  /** Local date in Asia/Shanghai, YYYY-MM-DD. */
  dueDate: string
  /** pending | done | cancelled; 'recorded' = recorded on this phone, not yet confirmed. */
  state: string
  seq: number
  ofTotal: number
  villageName: string
  assigneeName: string
  doneAt: string | null
  satisfaction: Satisfaction | null
  /** The server's object as pulled, for anything else. */
  raw: Record<string, unknown>
}

export type Performance = 'performed' | 'partly' | 'not_performed'
export const PERFORMANCE_LABELS: Record<Performance, string> = { performed: '已履行', partly: '部分履行', not_performed: '未履行' }

export const METHOD_LABELS: Record<VisitMethod, string> = { in_person: '上门回访', phone: '电话回访' }
export const SATISFACTION_LABELS: Record<Satisfaction, string> = {
  satisfied: '满意',
  basically_satisfied: '基本满意',
  unsatisfied: '不满意',
}
