/** Local case data: the capture draft, saving a case to the outbox, and actions on a case. */
import { db, getMeta } from '../core/db'
import { uuid } from '../core/ids'
import { Locator } from '../core/geo'
import { normaliseId, normalisePhone } from '../core/validate'
import { enqueue } from '../sync/outbox'
import { afterEnqueue } from '../sync/store'
import type { User } from '../people/types'
import type { CaseCreate, CaseRecord, CaseView, DraftRow, Level } from './types'
import { ACTION_LABELS, GROUP_DISPUTE } from './types'
import { predictedState, predictedSupervision } from './rules'

const DRAFT_KEY = 'capture'

export function emptyDraft(): DraftRow {
  return {
    key: DRAFT_KEY,
    caseId: uuid(),
    category: '',
    title: '',
    description: '',
    level: 'small',
    parties: [
      { name: '', phone: '', id_number: '', role: 'applicant' },
      { name: '', phone: '', id_number: '', role: 'respondent' },
    ],
    photos: [],
    location: null,
    place: null,
    placeConfirmed: false,
    occurredAt: '',
    source: '',
    referredBy: '',
    people: '',
    amount: '',
    updatedAt: Date.now(),
  }
}

export async function loadDraft(): Promise<DraftRow | null> {
  return (await db.drafts.get(DRAFT_KEY)) ?? null
}

export async function saveDraft(d: DraftRow): Promise<void> {
  await db.drafts.put(JSON.parse(JSON.stringify({ ...d, key: DRAFT_KEY, updatedAt: Date.now() })))
}

export async function discardDraft(): Promise<void> {
  await db.drafts.delete(DRAFT_KEY)
}

let locator: { version: number; value: Locator } | null = null

/** The user's township polygons as a locator (rebuilt when a pull brought new ones). */
export async function getLocator(): Promise<Locator> {
  const version = await getMeta<number>('gridsVersion', 0)
  if (!locator || locator.version !== version) locator = { version, value: new Locator(await db.grids.toArray()) }
  return locator.value
}

export function buildCreate(d: DraftRow): CaseCreate {
  if (!d.location) throw new Error('location required')
  return {
    id: d.caseId,
    category: d.category,
    title: d.title.trim(),
    description: d.description.trim(),
    level: d.level as Level,
    location: { lon: d.location.lon, lat: d.location.lat, accuracy_m: d.location.accuracy_m, crs: 'wgs84', source: d.location.source },
    occurred_at: d.occurredAt ? new Date(d.occurredAt).toISOString() : null,
    parties: d.parties
      .filter((p) => p.name.trim())
      .map((p) => ({ name: p.name.trim(), phone: normalisePhone(p.phone), id_number: normaliseId(p.id_number), role: p.role })),
    photos: [...d.photos],
    ...statisticsFields(d),
  }
}

/** The statistics fields a capture carries: only those given (the server defaults the rest). */
function statisticsFields(d: DraftRow): Pick<CaseCreate, 'source' | 'referred_by' | 'people_involved' | 'amount_yuan'> {
  const out: Pick<CaseCreate, 'source' | 'referred_by' | 'people_involved' | 'amount_yuan'> = {}
  if (d.source) out.source = d.source
  if (d.source === 'referral' && d.referredBy) out.referred_by = d.referredBy
  if ((d.people ?? '').trim()) out.people_involved = Number(d.people)
  if ((d.amount ?? '').trim()) out.amount_yuan = Number(d.amount)
  return out
}

/** Saves the case to the outbox and shows it at once in 我的案件 (marked 未发送). */
export async function saveCase(draft: DraftRow, user: User, categoryName: string): Promise<string> {
  const d = plain(draft) // Vue proxies cannot be stored in IndexedDB
  const body = buildCreate(d)
  const now = new Date().toISOString()
  const view: CaseView = {
    id: body.id,
    number: '',
    category: body.category,
    category_name: categoryName,
    title: body.title,
    description: body.description,
    level: body.level,
    state: 'draft',
    township: d.place?.township ?? null,
    village: d.place?.village ?? null,
    grid: d.place?.grid ?? null,
    lon: body.location.lon,
    lat: body.location.lat,
    accuracy_m: body.location.accuracy_m,
    locate_status: d.place?.status ?? null,
    parties: body.parties.map((p) => ({ ...p })),
    source: body.source ?? null,
    referred_by: body.referred_by ?? null,
    people_involved: body.people_involved ?? (body.parties.length || null),
    photo_count: body.photos.length,
    photos: body.photos.map((sha256) => ({ sha256, status: 'local', purpose: 'scene' })),
    events: [{ id: 'local-create', at: now, action: 'create', actor: user.display_name, data: {}, local: true }],
    allowed_actions: [],
    // As the server will own it: a team member's case is the team's (backend/cases/intake.py).
    owner_level: user.team && ['mediator', 'team_leader'].includes(user.role) ? 'team' : 'township',
    owner_team: user.team && ['mediator', 'team_leader'].includes(user.role) ? { id: user.team.id, name: user.team.name } : null,
    mediator: user.role === 'mediator' ? { id: user.id, name: user.display_name } : null,
    reported_at: now,
    updated_at: now,
    deadline: null,
    overdue: false,
    conflict: false,
    version: 0,
  }
  await db.transaction('rw', db.cases, db.drafts, db.outbox, async () => {
    await enqueue({
      type: 'case.create',
      entityId: body.id,
      payload: body as unknown as Record<string, unknown>,
      photos: body.photos,
      label: `登记纠纷：${body.title}`,
      userId: user.id,
    })
    const rec: CaseRecord = { id: body.id, view, detailed: true, localOnly: true, state: 'draft', updatedAt: now, localPhotos: body.photos }
    await db.cases.put(rec)
    await db.drafts.delete(DRAFT_KEY)
  })
  await afterEnqueue()
  return body.id
}

/** A deep copy without Vue's reactive proxies (IndexedDB's structured clone refuses them). */
export function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T
}

/**
 * Queues an action (note, resolve, close, ...) and shows it on the case at once, marked 待发送.
 * The server decides; its answer replaces the local guess at the next pull.
 */
export async function queueAction(record: CaseRecord, request: Record<string, unknown>, user: User, photos: string[] = []): Promise<void> {
  const rec = plain(record)
  const body = plain(request)
  const action = String(body.action)
  const now = new Date().toISOString()
  const label = `${ACTION_LABELS[action] ?? action}：${rec.view.title}`
  const view = { ...rec.view }
  view.events = [...(view.events ?? []), { id: `local-${uuid()}`, at: now, action, actor: user.display_name, data: { ...body }, local: true }]
  // Applied on the phone's copy at once (a draft stays a draft until the server has it).
  view.state = predictedState(view, action)
  if (action === 'resolve') {
    const a = body.agreement as NonNullable<CaseView['agreement']>
    const written = a.form === 'written'
    const obligations = (a.obligations ?? []).map((o) => ({ ...o, party_name: o.party === null ? null : (view.parties[o.party]?.name ?? null) }))
    view.agreement = { ...a, obligations, made_at: now, made_by: user.display_name, awaiting_signature: written, status_label: written ? '待签字' : a.form === 'oral' ? '口头协议' : '' }
  }
  if (action === 'attach_signed_agreement' && view.agreement) {
    const photos = body.photos as string[]
    view.agreement = { ...view.agreement, signed_photos: [...(view.agreement.signed_photos ?? []), ...photos], signed_photo: view.agreement.signed_photo ?? photos[0], awaiting_signature: false, status_label: '已签字生效' }
  }
  if (action === 'set_confidential') view.confidential = Boolean(body.confidential)
  view.supervision = predictedSupervision(view, action)
  if (action === 'set_risk') Object.assign(view, { risk: String(body.risk), risk_reason: String(body.reason ?? '') })
  if (action === 'reject') view.reject_reason = String(body.reason ?? '')
  if (action === 'escalate' && body.owner) view.owner_level = String(body.owner)
  if (action === 'escalate' && body.level) view.level = body.level as CaseView['level']
  if (action === 'assign' && body.mediator_name) view.mediator = { id: String(body.mediator_id), name: String(body.mediator_name) }
  delete body.mediator_name // shown on the phone only; not part of the action
  if (action === 'assign_leader') view.leader = body.user_id ? { id: String(body.user_id), name: String(body.leader_name ?? '') } : null
  delete body.leader_name
  view.next_step = undefined
  view.allowed_actions = []
  await db.transaction('rw', db.cases, db.outbox, async () => {
    await enqueue({
      type: action === 'note' ? 'case.note' : 'case.action',
      entityId: rec.id,
      baseVersion: rec.view.version || null,
      payload: body,
      photos,
      label,
      userId: user.id,
    })
    await db.cases.put({ ...rec, view, state: view.state, localPhotos: [...rec.localPhotos, ...photos] })
  })
  await afterEnqueue()
}

/**
 * Edits a case's own fields (title, description, scene photos) as a case.update with the version the
 * phone holds as its base (1 for a case not sent yet: the version its create will make). Only the
 * changed fields go; the server merges them, and flags a conflict when another device changed the same.
 */
/** The fields an edit (case.update) may change. */
export interface CaseChanges {
  title?: string
  description?: string
  photos?: string[]
  source?: string | null
  referred_by?: string | null
  people_involved?: number
}

export async function queueUpdate(record: CaseRecord, changes: CaseChanges, user: User, newPhotos: string[] = []): Promise<void> {
  const rec = plain(record)
  const payload = plain(changes) as Record<string, unknown>
  if (!Object.keys(payload).length) return
  const now = new Date().toISOString()
  const view = { ...rec.view }
  if (changes.title !== undefined) view.title = changes.title
  if (changes.description !== undefined) view.description = changes.description
  if (changes.source !== undefined) view.source = changes.source
  if (changes.referred_by !== undefined || (changes.source !== undefined && changes.source !== 'referral')) {
    view.referred_by = changes.source !== undefined && changes.source !== 'referral' ? null : (changes.referred_by ?? null)
  }
  if (changes.people_involved !== undefined) {
    view.people_involved = changes.people_involved
    view.group_dispute = changes.people_involved >= GROUP_DISPUTE
  }
  if (changes.photos) {
    const known = new Set((view.photos ?? []).map((p) => p.sha256))
    view.photos = [...(view.photos ?? []), ...changes.photos.filter((sha) => !known.has(sha)).map((sha256) => ({ sha256, status: 'local', purpose: 'scene' }))]
    view.photo_count = changes.photos.length
  }
  view.events = [...(view.events ?? []), { id: `local-${uuid()}`, at: now, action: 'update', actor: user.display_name, data: { fields: Object.keys(payload) }, local: true }]
  await db.transaction('rw', db.cases, db.outbox, async () => {
    await enqueue({
      type: 'case.update',
      entityId: rec.id,
      baseVersion: rec.view.version || 1,
      payload,
      photos: newPhotos,
      label: `修改案件：${view.title}`,
      userId: user.id,
    })
    await db.cases.put({ ...rec, view, localPhotos: [...rec.localPhotos, ...newPhotos] })
  })
  await afterEnqueue()
}
