/** Cases as the phone keeps them: the server's view when pulled, plus local ones not yet sent. */

export type Level = 'small' | 'hard' | 'big'
export type PartyRole = 'applicant' | 'respondent' | 'party' | 'witness'

export interface Ref {
  code: string
  name: string
}

export interface PartyIn {
  name: string
  phone: string
  id_number: string
  role: PartyRole
}

export interface LocationIn {
  lon: number
  lat: number
  accuracy_m: number | null
  crs: 'wgs84' | 'gcj02'
  source: 'gps' | 'manual'
}

/** Body of POST /api/cases (and the payload of a case.create operation). The capture time travels as
 * the operation's client_time. */
export interface CaseCreate {
  id: string
  category: string
  title: string
  description: string
  level: Level
  location: LocationIn
  occurred_at: string | null
  parties: PartyIn[]
  photos: string[]
  /** For the 司法局's statistics (SOURCE_LABELS, REFERRER_LABELS); people_involved defaults to the parties. */
  source?: string | null
  referred_by?: string | null
  people_involved?: number | null
  /** 涉及金额 in yuan: the risk rules weigh it (e.g. 征地补偿 over a threshold). */
  amount_yuan?: number | null
}

export interface CaseEvent {
  id: number | string
  at: string
  action: string
  actor: string | null
  data: Record<string, unknown>
  before?: Record<string, unknown>
  after?: Record<string, unknown>
  /** True for an event made on this phone and not yet confirmed. */
  local?: boolean
}

export interface Obligation {
  /** Index into the case's parties; null: every party. */
  party: number | null
  party_name?: string | null
  content: string
  manner: string
  place: string
  /** YYYY-MM-DD */
  deadline: string | null
}

/** 调解协议书: written (facts, matters, responsibilities, obligations) or oral (content); form '' is the
 * free text (terms, performance) of agreements made before the structured form. */
export interface Agreement {
  form?: 'written' | 'oral' | ''
  facts: string
  matters: string
  terms?: string
  performance?: string
  responsibilities?: string
  obligations?: Obligation[]
  amount_yuan?: number | null
  content?: string
  signed_photo?: string | null
  signed_photos?: string[]
  signed_at?: string | null
  awaiting_signature?: boolean
  status_label?: string
  performance_status?: string | null
  confirmation_deadline?: string | null
  confirmation?: { applied: boolean | null; court: string; result: string | null; date: string | null } | null
  made_at?: string
  made_by?: string | null
}

/** GET /api/cases/{id} (CaseDetail); list items (CaseSummary) have a subset. */
export interface CaseView {
  id: string
  number: string
  category: string
  category_name: string
  title: string
  description?: string
  level: Level
  state: string
  township: Ref | null
  village: Ref | null
  grid: Ref | null
  lon: number
  lat: number
  accuracy_m?: number | null
  locate_status: string | null
  parties: { name: string; phone: string | null; id_number: string | null; role: string }[]
  photo_count: number
  photos?: { sha256: string; status: string; purpose: string }[]
  missing_photos?: string[]
  agreement?: Agreement | null
  events?: CaseEvent[]
  allowed_actions?: string[]
  reported_at: string
  updated_at: string
  deadline: string | null
  overdue: boolean
  conflict: boolean
  version: number
  visits?: Record<string, unknown>[]
  owner_level?: string
  owner_team?: { id: number | string; name: string } | null
  mediator?: { id: number | string; name: string } | null
  /** 包案领导: the leader in charge of the case (county or township leader), if any. */
  leader?: { id: number | string; name: string } | null
  /** Who acts next (e.g. 等待调解队长受理); null when the case's own team is at work. */
  next_step?: string | null
  received_at?: string | null
  /** phone: reported_at is the phone's capture time; server: when the server received it. */
  reported_at_source?: string
  /** 不公开: prints mask third parties, the map shows no details. */
  confidential?: boolean
  reject_reason?: string | null
  refer_target?: string | null
  duplicates?: { case_id: string; number: string; title: string; reason: string; status: string }[]
  /** The deadline's countdown in mediation: green | yellow (7 days or less) | red (overdue); local days left. */
  deadline_colour?: string | null
  days_left?: number | null
  /** 风险等级 green | yellow | red, and why (the county's rules or a supervisor's re-assessment). */
  risk?: string
  risk_reason?: string
  /** The status of the case's open 督办 order (issued | acknowledged | reported); null: none open. */
  supervision?: string | null
  supervision_orders?: SupervisionOrder[]
  source?: string | null
  referred_by?: string | null
  people_involved?: number | null
  amount_yuan?: number | null
  /** 群体性纠纷: GROUP_DISPUTE or more people involved. */
  group_dispute?: boolean
  prevented_criminal?: boolean
  prevented_group_petition?: boolean
  prevented_group_fight?: boolean
  /** 卷宗号, given when the case is archived. */
  archive_number?: string | null
}

/** A 督办 order (backend SupervisionOrderView); `red`: why it is red now (unacknowledged | overdue). */
export interface SupervisionOrder {
  id: string
  issued_by: string | null
  issued_at: string
  instruction: string
  due_date: string
  status: string
  acknowledged_at: string | null
  reported_at: string | null
  report: string | null
  accepted_at: string | null
  returned_count: number
  return_reason: string | null
  red: string | null
}

export const SUPERVISION_STATUS: Record<string, string> = {
  issued: '待签收',
  acknowledged: '办理中',
  reported: '待验收',
  accepted: '已验收',
}
export const SUPERVISION_RED: Record<string, string> = {
  unacknowledged: '超24小时未签收',
  overdue: '已超办理期限',
}

export interface CaseRecord {
  id: string
  /** The server's view, or a local stand-in made from the capture form until the server has it. */
  view: CaseView
  /** Whether `view` includes the detail fields (events, photos...). */
  detailed: boolean
  /** Still only on this phone (its create operation is in the outbox). */
  localOnly: boolean
  state: string
  updatedAt: string
  /** Photos stored on the phone for this case (SHA-256), shown from IndexedDB when offline. */
  localPhotos: string[]
}

export interface CategoryRow {
  code: string
  name: string
  national_category: string
  active: boolean
}

/** The capture form as typed so far; one row, autosaved. */
export interface DraftRow {
  key: string
  caseId: string
  category: string
  title: string
  description: string
  level: Level
  parties: PartyIn[]
  photos: string[]
  location: (LocationIn & { at: number }) | null
  place: { township: Ref | null; village: Ref | null; grid: Ref | null; status: string } | null
  placeConfirmed: boolean
  occurredAt: string
  /** Statistics fields: source and referrer codes ('' = not given), people involved as typed. */
  source: string
  referredBy: string
  people: string
  /** 涉及金额 (yuan), as typed; optional (drafts from before it have none). */
  amount?: string
  updatedAt: number
}

/** Where a dispute came from (backend/cases/fields.py SOURCES), and who referred it in. */
export const SOURCE_LABELS: Record<string, string> = {
  screening: '排查发现',
  application: '当事人申请',
  initiative: '主动调解',
  referral: '委托移送',
}
export const REFERRER_LABELS: Record<string, string> = { court: '法院', police: '公安', petition: '信访', hotline: '12345', other: '其他' }
/** This many people or more make a 群体性纠纷. */
export const GROUP_DISPUTE = 5
export const MAX_PEOPLE = 100000
/** What closing a case prevented (the close action's flags). */
export const PREVENTION_LABELS: Record<string, string> = {
  prevented_criminal: '防止民转刑',
  prevented_group_petition: '防止群体性上访',
  prevented_group_fight: '防止群体性械斗',
}

export const LEVEL_LABELS: Record<Level, string> = { small: '小事', hard: '难事', big: '大事' }
export const LEVEL_HINTS: Record<Level, string> = {
  small: '村调解队当场化解',
  hard: '乡镇多方联合调处',
  big: '走法律途径',
}
export const PARTY_ROLE_LABELS: Record<PartyRole, string> = {
  applicant: '申请人',
  respondent: '被申请人',
  party: '当事人',
  witness: '证人',
}

export const STATE_LABELS: Record<string, string> = {
  draft: '未发送',
  reported: '已登记',
  accepted: '已受理',
  rejected: '不予受理',
  referred: '已移交',
  mediating: '调解中',
  resolved: '已化解',
  failed: '调解未成',
  closed: '已办结',
  reopened: '重新调解',
  archived: '已归档',
  merged: '已合并',
}

export const REFER_TARGETS: Record<string, string> = {
  court: '人民法院',
  arbitration: '仲裁机构',
  legal_aid: '法律援助中心',
  petition_office: '信访部门',
}

export const ACTION_LABELS: Record<string, string> = {
  create: '登记',
  accept: '受理',
  reject: '不予受理',
  refer: '移交',
  assign: '指派',
  escalate: '上报',
  note: '调解记录',
  resolve: '达成协议',
  fail: '调解未成',
  close: '办结',
  reopen: '重新调解',
  correct_location: '更正位置',
  extend_deadline: '延期',
  clear_conflict: '处理冲突',
  archive: '归档',
  merge: '合并',
  dismiss_duplicate: '非重复',
  visit: '回访',
  update: '修改',
  attach_signed_agreement: '上传签字协议',
  record_confirmation: '司法确认',
  set_confidential: '不公开设置',
  supervise: '督办',
  acknowledge_supervision: '签收督办',
  report_supervision: '回复督办',
  accept_supervision: '验收督办',
  return_supervision: '退回督办',
  set_risk: '风险研判',
  assign_leader: '领导包案',
}

export const RISK_LABELS: Record<string, string> = { green: '绿色', yellow: '黄色风险', red: '红色风险' }

/** States in which the case still needs work from its team. */
export const OPEN_STATES = ['reported', 'accepted', 'mediating', 'reopened', 'resolved', 'failed']
