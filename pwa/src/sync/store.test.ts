import 'fake-indexeddb/auto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { db } from '../core/db'
import { signInForTest } from '../core/testSession'
import type { CaseRecord } from '../cases/types'
import { enqueue } from './outbox'
import { engine } from './store'
import { queueUpdate } from '../cases/repo'
import type { User } from '../people/types'

const USER_ID = 7
const CASE_ID = '00000000-0000-4000-8000-000000000123'
const WHERE = '已登记为 530524104-2026-000007，所在地为卡斯镇，已转交该乡镇处理'

/** The server's answers: the push as given, every other read empty; the paths asked are logged. */
function server(results: (op: { op_id: string; type: string }) => Record<string, unknown>, serverCase: Record<string, unknown> | null = null) {
  const asked: string[] = []
  const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(url), 'http://x').pathname
    asked.push(`${init?.method ?? 'GET'} ${path}`)
    const reply = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
    if (path === '/api/sync/push') {
      const ops = JSON.parse(String(init?.body)).ops as { op_id: string; type: string }[]
      return reply(200, { results: ops.map((op) => ({ op_id: op.op_id, ...results(op) })) })
    }
    if (path === '/api/sync/pull') return reply(200, { changes: [], cursor: 'c1', more: false })
    if (path.startsWith('/api/cases/') && serverCase) return reply(200, serverCase)
    if (path.startsWith('/api/cases/')) return reply(404, { code: 'case.not_found', message: '未找到该案件', message_en: 'Not found' })
    return reply(200, [])
  })
  vi.stubGlobal('fetch', fetch)
  return asked
}

function localCase(): CaseRecord {
  const view = { id: CASE_ID, number: '', title: '卡斯镇路边的纠纷', state: 'reported', version: 0, conflict: false, parties: [], photos: [], events: [] }
  return { id: CASE_ID, view: view as never, detailed: true, localOnly: true, state: 'reported', updatedAt: new Date().toISOString(), localPhotos: [] }
}

beforeEach(async () => {
  await Promise.all([db.outbox.clear(), db.cases.clear(), db.meta.clear()])
  await signInForTest({ id: USER_ID, username: 'tianyuan-grid', display_name: '网格员', role: 'grid_worker', role_label: '', scope: { level: 'village', code: '530524101001', name: '关庙社区' }, team: null })
})
afterEach(() => vi.unstubAllGlobals())

describe('a case the server files elsewhere (case.created_elsewhere)', () => {
  it.each([
    ['the first answer', { status: 'applied' }],
    ['a replay (the first answer lost on the way)', { status: 'duplicate', original_status: 'applied' }],
  ])('drops the phone copy, keeps the sent item with its number and where it went, and asks for nothing more: %s', async (_, answer) => {
    const asked = server(() => ({ ...answer, code: 'case.created_elsewhere', server_version: 1, message: WHERE }))
    await db.cases.put(localCase())
    await enqueue({ type: 'case.create', entityId: CASE_ID, payload: { id: CASE_ID, title: '卡斯镇路边的纠纷' }, label: '登记纠纷：卡斯镇路边的纠纷', userId: USER_ID })

    await engine.run({ force: true })

    // The case is the other township's now: the phone keeps no copy it could not refresh.
    expect(await db.cases.get(CASE_ID)).toBeUndefined()
    const [item] = await db.outbox.toArray()
    expect(item.state).toBe('done') // sent, never offered again
    expect(item.lastError).toBe(WHERE) // shown under 最近已送达
    expect(item.lastCode).toBe('case.created_elsewhere')
    expect(asked).not.toContain(`GET /api/cases/${CASE_ID}`) // it would be 404 for this user
    expect(engine.state.attention).toBe(0)
  })

  it('keeps a case the server filed here, and reads the server copy', async () => {
    const asked = server(() => ({ status: 'applied', server_version: 1 }))
    await db.cases.put(localCase())
    await enqueue({ type: 'case.create', entityId: CASE_ID, payload: { id: CASE_ID, title: '卡斯镇路边的纠纷' }, label: '登记纠纷', userId: USER_ID })

    await engine.run({ force: true })

    expect(asked).toContain(`GET /api/cases/${CASE_ID}`)
    const kept = await db.cases.get(CASE_ID)
    expect(kept?.id).toBe(CASE_ID)
    expect(kept?.localOnly).toBe(false)
  })
})

describe('editing a sent case (case.update)', () => {
  const me = { id: USER_ID, display_name: '王德明' } as User

  it('sends only the changed fields with the version the phone holds, and shows the server’s conflict', async () => {
    const sent: Record<string, unknown>[] = []
    const fresh = { ...localCase().view, number: '530524101-2026-000009', title: '甲手机的标题', version: 6, conflict: true }
    server((op) => {
      sent.push(op)
      return { status: 'conflict', code: 'case.conflict', server_version: 6 }
    }, fresh)
    const held = localCase()
    await db.cases.put({ ...held, localOnly: false, view: { ...held.view, number: '530524101-2026-000009', version: 4, description: '原来的描述' } as never })

    vi.stubGlobal('navigator', { onLine: false }) // edited without signal; sent by the run below
    await queueUpdate((await db.cases.get(CASE_ID))!, { title: '乙手机的标题' }, me)
    // At once on the phone: the new title, and the edit in the timeline as 待发送.
    const local = (await db.cases.get(CASE_ID))!
    expect(local.view.title).toBe('乙手机的标题')
    expect(local.view.events?.at(-1)).toMatchObject({ action: 'update', local: true })
    await engine.run({ force: true })

    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ type: 'case.update', entity_id: CASE_ID, base_version: 4, payload: { title: '乙手机的标题' } })
    const [item] = await db.outbox.toArray()
    expect(item.state).toBe('done')
    expect(item.lastError).toContain('冲突')
    // The server's copy replaces the phone's: its title and the conflict flag the case page shows.
    const after = (await db.cases.get(CASE_ID))!
    expect(after.view.conflict).toBe(true)
    expect(after.view.title).toBe('甲手机的标题')
    expect(after.view.version).toBe(6)
  })
})
