/**
 * Who may do what on a case, as the phone works it out while the server cannot be asked (a case not
 * sent yet, or with actions still in the outbox). It mirrors backend/cases/workflow.py RULES; the
 * server still decides, and what it refuses is shown on the outbox item and on the case.
 */
import type { User } from '../people/types'
import type { CaseView } from './types'
import { MAX_PEOPLE } from './types'

const IN_MEDIATION = ['accepted', 'mediating', 'reopened']
const NOT_MERGED = ['reported', 'accepted', 'mediating', 'reopened', 'resolved', 'failed', 'closed', 'archived', 'rejected', 'referred']

interface Rule {
  states: string[]
  /** Team roles that may act when they work on the owning team (supervisors always may). */
  team?: 'leader' | 'members'
  anyone?: boolean
  supervisors?: boolean
  /** The area's leaders (包案领导) may act too: they supervise but work no case. */
  leaders?: boolean
  applies?: (c: CaseView) => boolean
}

/** 小事拉家常: a team's own small matter is settled on the spot, before anyone accepts it. */
const onTheSpot = (c: CaseView) => c.state !== 'reported' || (c.level === 'small' && !!c.owner_team)

export const RULES: Record<string, Rule> = {
  accept: { states: ['reported'], team: 'leader' },
  reject: { states: ['reported'], team: 'leader' },
  refer: { states: ['reported', 'failed', ...IN_MEDIATION] },
  assign: { states: ['reported', 'failed', ...IN_MEDIATION], team: 'leader' },
  escalate: { states: ['reported', ...IN_MEDIATION], team: 'leader' },
  note: { states: [...IN_MEDIATION, 'reported', 'failed', 'resolved'], team: 'members', anyone: true },
  update: { states: ['reported', 'failed', 'resolved', ...IN_MEDIATION], team: 'members' },
  resolve: { states: ['reported', 'mediating', 'reopened'], team: 'members', applies: onTheSpot },
  fail: { states: ['mediating', 'reopened'], team: 'members' },
  close: { states: ['resolved'], team: 'members' },
  reopen: { states: ['closed', 'archived', 'failed', 'rejected'] },
  extend_deadline: { states: IN_MEDIATION, team: 'leader' },
  clear_conflict: { states: NOT_MERGED, applies: (c) => c.conflict },
  merge: { states: ['reported', 'failed', ...IN_MEDIATION] },
  dismiss_duplicate: { states: NOT_MERGED.filter((s) => !['archived', 'rejected', 'referred'].includes(s)) },
  archive: { states: ['closed'] },
  attach_signed_agreement: { states: ['resolved', 'closed', 'archived'], team: 'members' },
  record_confirmation: { states: ['resolved', 'closed', 'archived'], team: 'members' },
  set_confidential: { states: NOT_MERGED, team: 'members' },
  // 督办: supervisors order, the team leader acknowledges and reports, the issuer accepts or returns.
  supervise: { states: ['reported', 'failed', ...IN_MEDIATION], applies: (c) => !c.supervision, leaders: true },
  acknowledge_supervision: { states: NOT_MERGED, team: 'leader', supervisors: false, applies: (c) => c.supervision === 'issued' },
  report_supervision: { states: NOT_MERGED, team: 'leader', supervisors: false, applies: (c) => c.supervision === 'acknowledged' },
  accept_supervision: { states: NOT_MERGED, applies: (c) => c.supervision === 'reported', leaders: true },
  return_supervision: { states: NOT_MERGED, applies: (c) => c.supervision === 'reported', leaders: true },
  set_risk: { states: NOT_MERGED.filter((s) => s !== 'archived') },
  // 领导包案: supervisors attach, replace or clear the leader in charge.
  assign_leader: { states: NOT_MERGED.filter((s) => s !== 'archived') },
}

const SUPERVISORS = ['township_supervisor', 'county_admin']

function worksOn(user: User, c: CaseView): boolean {
  return (!!user.team && String(c.owner_team?.id ?? '') === String(user.team.id)) || String(c.mediator?.id ?? '') === String(user.id)
}

/** The actions this user may take on the case as the phone holds it (draft counts as reported). */
export function localAllowed(user: User, view: CaseView): string[] {
  const c = view.state === 'draft' ? { ...view, state: 'reported' } : view
  return Object.entries(RULES)
    .filter(([, r]) => r.states.includes(c.state) && (!r.applies || r.applies(c)))
    .filter(([, r]) => {
      if (SUPERVISORS.includes(user.role) && r.supervisors !== false) return true
      if (user.role === 'leader' && r.leaders) return true
      if (r.team === 'leader' && user.role === 'team_leader' && worksOn(user, c)) return true
      if (r.team === 'members' && ['mediator', 'team_leader'].includes(user.role) && worksOn(user, c)) return true
      return !!r.anyone
    })
    .map(([a]) => a)
}

/** The status of the open 督办 order after the action (unchanged for other actions). */
export function predictedSupervision(view: CaseView, action: string): string | null | undefined {
  const next: Record<string, string | null> = {
    supervise: 'issued',
    acknowledge_supervision: 'acknowledged',
    report_supervision: 'reported',
    accept_supervision: null,
    return_supervision: 'acknowledged',
  }
  return action in next ? next[action] : view.supervision
}

/** The state the case will be in after the action, as the server will decide it. */
export function predictedState(view: CaseView, action: string): string {
  const state = view.state === 'draft' ? 'reported' : view.state
  const team = !!view.owner_team
  switch (action) {
    case 'accept':
      return team ? 'mediating' : 'accepted'
    case 'reject':
      return 'rejected'
    case 'refer':
      return 'referred'
    case 'assign':
      return ['accepted', 'failed', 'reopened'].includes(state) ? 'mediating' : state
    case 'resolve':
      return 'resolved'
    case 'fail':
      return 'failed'
    case 'close':
      return 'closed'
    case 'reopen':
      return team ? 'mediating' : 'reopened'
    case 'archive':
      return 'archived'
    case 'merge':
      return 'merged'
    default:
      return view.state
  }
}

const OWNER_NAMES: Record<string, string> = { team: '调解队长', township: '乡镇综治中心', county: '县信联办' }

/** Who acts next, in words (the server's next_step when it has one; worked out for a local case). */
export function nextStep(view: CaseView): string | null {
  if (view.next_step !== undefined && view.state !== 'draft') return view.next_step
  const state = view.state === 'draft' ? 'reported' : view.state
  if (state === 'reported') return `等待${OWNER_NAMES[view.owner_level ?? 'township'] ?? '乡镇综治中心'}受理`
  if ((state === 'accepted' || state === 'reopened') && !view.owner_team) return '等待乡镇综治中心指派调解队'
  if (state === 'resolved') return '已达成协议，等待办结'
  if (state === 'closed') return '已办结，等待回访'
  if (state === 'failed') return '调解未成，等待乡镇综治中心处理（移交或重新指派）'
  return null
}

/** The people a dispute involves as typed: empty (the parties count) or a whole number 1–MAX_PEOPLE. */
/** 涉及金额 in yuan: empty, or 0 to the server's maximum with at most 2 decimals. */
export const MAX_AMOUNT = 999_999_999_999
export function checkAmount(raw: string | undefined): string {
  const text = (raw ?? '').trim()
  if (!text) return ''
  const n = Number(text)
  return /^\d+(\.\d{1,2})?$/.test(text) && n <= MAX_AMOUNT ? '' : '涉及金额应为 0 或以上的元数（最多两位小数）'
}

export function checkPeople(raw: string): string {
  const text = raw.trim()
  if (!text) return ''
  const n = Number(text)
  return Number.isInteger(n) && n >= 1 && n <= MAX_PEOPLE ? '' : `涉及人数应为 1 到 ${MAX_PEOPLE} 之间的整数`
}
