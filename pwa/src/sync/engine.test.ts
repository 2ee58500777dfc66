import 'fake-indexeddb/auto'
import { beforeEach, describe, expect, it } from 'vitest'
import { ApiClient, tokensFrom } from '../core/api'
import { db } from '../core/db'
import { backoffMs, BACKOFF_MAX_MS, SyncEngine } from './engine'
import { enqueue, unsentItems } from './outbox'
import { CHUNK } from './photos'
import { DataPuller } from './pull'
import type { OutboxItem } from './types'

const USER_ID = 7

type Handler = (method: string, path: string, body: unknown, headers: Record<string, string>) => Promise<Response> | Response

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })
}

/**
 * Where two byte arrays first differ, -1 when they hold the same bytes. toEqual walks a typed array
 * one element at a time through its generic deep equality: over a second for a 257 KB photo.
 */
function firstDifference(a: Uint8Array | undefined, b: Uint8Array): number {
  if (!a) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

/** A fake server that knows the sync protocol: op_id dedupe, case creation, media uploads, visit records. */
function fakeServer() {
  const cases = new Map<string, Record<string, unknown>>()
  const visits = new Map<string, Record<string, unknown>>()
  const seenOps = new Map<string, string>()
  const media = new Map<string, Uint8Array>()
  const log: string[] = []
  const faults: { loseAnswerOfPush: number[]; failPutAt: number[]; status429Once: boolean; revoked: boolean } = {
    loseAnswerOfPush: [],
    failPutAt: [],
    status429Once: false,
    revoked: false,
  }
  let pushes = 0
  let puts = 0
  const handle: Handler = async (method, path, body, headers) => {
    log.push(`${method} ${path}`)
    if (faults.revoked) return json(401, { code: 'auth.device_revoked', message: '设备已停用', message_en: 'revoked' })
    if (path === '/api/sync/push') {
      pushes++
      if (faults.status429Once) {
        faults.status429Once = false
        return json(429, { code: 'sync.rate_limited', message: '同步过于频繁', message_en: 'slow down' }, { 'Retry-After': '42' })
      }
      const ops = (body as { ops: { op_id: string; type: string; entity_id: string; payload: Record<string, unknown> }[] }).ops
      const results = ops.map((op) => {
        if (seenOps.has(op.op_id)) return { op_id: op.op_id, status: 'duplicate', original_status: seenOps.get(op.op_id) }
        if (op.type === 'case.create') {
          if (cases.has(op.entity_id) && JSON.stringify(cases.get(op.entity_id)) !== JSON.stringify(op.payload)) {
            seenOps.set(op.op_id, 'rejected')
            return { op_id: op.op_id, status: 'conflict', code: 'case.id_conflict', message: '该案件编号已存在且内容不同' }
          }
          cases.set(op.entity_id, op.payload)
        }
        if (op.type === 'case.action' && op.payload.action === 'close') {
          seenOps.set(op.op_id, 'rejected')
          return { op_id: op.op_id, status: 'rejected', code: 'case.invalid_transition', message: '当前状态下不能执行此操作' }
        }
        seenOps.set(op.op_id, 'applied')
        return { op_id: op.op_id, status: 'applied', server_version: 1 }
      })
      if (faults.loseAnswerOfPush.includes(pushes)) throw new TypeError('Failed to fetch') // applied, answer lost
      return json(200, { results })
    }
    const m = path.match(/^\/api\/media\/([0-9a-f]{64})$/)
    if (m) {
      const held = media.get(m[1]) ?? new Uint8Array()
      const done = media.has(`${m[1]}:done`)
      if (method === 'HEAD') {
        if (done) return new Response(null, { status: 200, headers: { 'Upload-Complete': '?1' } })
        if (!held.length) return new Response(null, { status: 404 })
        return new Response(null, { status: 200, headers: { 'Upload-Complete': '?0', 'Upload-Offset': String(held.length) } })
      }
      puts++
      const bytes = new Uint8Array(await (body as Blob).arrayBuffer())
      const range = headers['Content-Range']
      if (faults.failPutAt.includes(puts)) throw new TypeError('Failed to fetch') // cut mid-chunk: not kept
      if (!range) {
        media.set(m[1], bytes)
        media.set(`${m[1]}:done`, new Uint8Array())
        return json(201, { sha256: m[1], status: 'complete' })
      }
      const [, start, , total] = range.match(/bytes (\d+)-(\d+)\/(\d+|\*)/)!.map(String)
      if (Number(start) !== held.length) {
        return json(409, { code: 'media.offset_mismatch', message: 'offset', message_en: 'offset', offset: held.length }, { 'Upload-Offset': String(held.length) })
      }
      const joined = new Uint8Array(held.length + bytes.length)
      joined.set(held)
      joined.set(bytes, held.length)
      media.set(m[1], joined)
      if (joined.length === Number(total)) {
        media.set(`${m[1]}:done`, new Uint8Array())
        return json(201, { sha256: m[1], status: 'complete' })
      }
      return json(202, { status: 'partial', offset: joined.length }, { 'Upload-Offset': String(joined.length) })
    }
    const v = path.match(/^\/api\/visits\/([0-9a-f-]{36})\/record$/)
    if (v && method === 'POST') {
      // The same record again is answered as before (backend/visits/service.py record_visit).
      if (!visits.has(v[1])) visits.set(v[1], body as Record<string, unknown>)
      return json(200, { id: v[1], status: 'done', record: visits.get(v[1]) })
    }
    return json(404, { code: 'not_found', message: '未找到', message_en: 'Not found' })
  }
  const fetch = async (url: string | URL | Request, init?: RequestInit) => {
    const path = String(url)
    const raw = init?.body
    const body = typeof raw === 'string' ? JSON.parse(raw) : raw
    return handle(init?.method ?? 'GET', path, body, (init?.headers ?? {}) as Record<string, string>)
  }
  return { cases, visits, media, seenOps, log, faults, fetch: fetch as typeof globalThis.fetch, counts: () => ({ pushes, puts }) }
}

function engineFor(server: ReturnType<typeof fakeServer>, batchSize = 5, puller?: DataPuller) {
  const api = new ApiClient({ fetch: server.fetch, now: () => 1_000_000 })
  api.setTokens(
    tokensFrom({ access_token: 'a', refresh_token: 'r', token_type: 'bearer', expires_in: 900, refresh_expires_in: 2592000, user: {} as never }, 1_000_000),
  )
  let now = 1_000_000
  const engine = new SyncEngine({ api, userId: () => USER_ID, batchSize, now: () => now, random: () => 0.5, puller })
  return { engine, api, advance: (ms: number) => (now += ms) }
}

function caseOp(i: number) {
  const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`
  return { type: 'case.create' as const, entityId: id, payload: { id, title: `案件 ${i}` }, label: `登记纠纷：案件 ${i}`, userId: USER_ID }
}

async function all(): Promise<OutboxItem[]> {
  return (await db.outbox.toArray()).sort((a, b) => a.seq - b.seq)
}

beforeEach(async () => {
  await db.outbox.clear()
  await db.photos.clear()
  await db.meta.clear()
})

describe('sync engine', () => {
  it('sends 20 items exactly once although the answer of a batch is lost mid-sync', async () => {
    const server = fakeServer()
    server.faults.loseAnswerOfPush = [2]
    for (let i = 1; i <= 20; i++) await enqueue(caseOp(i))
    const { engine } = engineFor(server)

    await engine.run({ force: true })
    // The run stopped at the cut: batch 1 confirmed, batch 2 applied on the server but unconfirmed.
    let items = await all()
    expect(items.filter((i) => i.state === 'done')).toHaveLength(5)
    expect(items.filter((i) => i.state === 'waiting')).toHaveLength(15)
    expect(engine.state.lastError).toContain('没有网络')
    expect(engine.state.nextRunAt).not.toBeNull()

    await engine.run({ force: true })
    items = await all()
    expect(items.every((i) => i.state === 'done')).toBe(true)
    expect(server.cases.size).toBe(20)
    expect(server.seenOps.size).toBe(20) // every op applied once; the resent batch came back duplicate
    expect(await unsentItems()).toEqual([])
  })

  it('marks an op sent only on the server answer, and keeps the phone order', async () => {
    const server = fakeServer()
    for (let i = 1; i <= 7; i++) await enqueue(caseOp(i))
    const { engine } = engineFor(server, 3)
    await engine.run({ force: true })
    const sent = server.log.filter((l) => l === 'POST /api/sync/push')
    expect(sent).toHaveLength(3) // 3 + 3 + 1
    expect([...server.cases.values()].map((c) => c.title)).toEqual(Array.from({ length: 7 }, (_, i) => `案件 ${i + 1}`))
  })

  it('keeps every item on 429 (waiting Retry-After) and on a revoked device', async () => {
    const server = fakeServer()
    server.faults.status429Once = true
    await enqueue(caseOp(1))
    const { engine } = engineFor(server)
    await engine.run({ force: true })
    let [item] = await all()
    expect(item.state).toBe('waiting')
    expect(item.lastError).toContain('繁忙')
    expect(engine.state.nextRunAt).toBe(1_000_000 + 42_000)

    server.faults.revoked = true
    await engine.run({ force: true })
    ;[item] = await all()
    expect(item.state).toBe('waiting')
    expect(await db.outbox.count()).toBe(1) // never dropped
  })

  it('shows 409 id_conflict as needing attention and a rejection as failed with the reason', async () => {
    const server = fakeServer()
    const op = caseOp(1)
    server.cases.set(op.entityId, { id: op.entityId, title: '别的内容' })
    await enqueue(op)
    await enqueue({ type: 'case.action', entityId: caseOp(2).entityId, payload: { action: 'close' }, label: '办结', userId: USER_ID })
    const { engine } = engineFor(server)
    await engine.run({ force: true })
    const [conflict, rejected] = await all()
    expect(conflict.state).toBe('attention')
    expect(conflict.lastCode).toBe('case.id_conflict')
    expect(rejected.state).toBe('failed')
    expect(rejected.lastError).toBe('当前状态下不能执行此操作')
    expect(engine.state.attention).toBe(2)
  })

  it('runs once more when asked mid-run, so an item saved meanwhile does not wait for the timer', async () => {
    const server = fakeServer()
    await enqueue(caseOp(1))
    const { engine } = engineFor(server)
    const first = engine.run({ force: true })
    await enqueue(caseOp(2)) // saved while the first run is under way
    const second = engine.run({ force: true })
    await Promise.all([first, second])
    expect(server.cases.size).toBe(2)
    expect((await all()).every((i) => i.state === 'done')).toBe(true)
  })

  it('links each op to the previous op on the same entity', async () => {
    const first = await enqueue(caseOp(1))
    const second = await enqueue({ type: 'case.note', entityId: caseOp(1).entityId, payload: { action: 'note', text: '谈话' }, label: '记录', userId: USER_ID })
    const other = await enqueue(caseOp(2))
    expect(first.prevOpId).toBeNull()
    expect(second.prevOpId).toBe(first.id)
    expect(other.prevOpId).toBeNull()
  })

  it('uploads photos before the case, in chunks, resuming from the server offset after a cut', async () => {
    const server = fakeServer()
    server.faults.failPutAt = [2] // the second chunk is cut off
    const bytes = new Uint8Array(CHUNK * 2 + 1000).map((_, i) => (i * 7) % 251)
    const sha = 'a'.repeat(64)
    await db.photos.put({ sha256: sha, blob: new Blob([bytes], { type: 'image/jpeg' }), thumb: new Blob([]), width: 1600, height: 1200, bytes: bytes.length, uploaded: 0, createdAt: 0 })
    await enqueue({ ...caseOp(1), photos: [sha] })
    const { engine } = engineFor(server)

    await engine.run({ force: true })
    expect(server.cases.size).toBe(0) // the case waits for its photo
    expect((await all())[0].state).toBe('waiting')

    await engine.run({ force: true })
    expect(firstDifference(server.media.get(sha), bytes)).toBe(-1)
    expect((await db.photos.get(sha))?.uploaded).toBe(1)
    expect(server.cases.size).toBe(1)
    const puts = server.log.filter((l) => l.startsWith('PUT'))
    expect(puts).toHaveLength(4) // chunk 1, chunk 2 (cut), chunk 2 again, chunk 3
    expect(server.log.filter((l) => l.startsWith('HEAD'))).toHaveLength(2)
  })

  it('keeps every item unsent and stops with an error when /api/sync/push is missing (404/405)', async () => {
    for (const status of [404, 405]) {
      await db.outbox.clear()
      const server = fakeServer()
      const original = server.fetch
      const posts: string[] = []
      server.fetch = (async (url: string | URL | Request, init?: RequestInit) => {
        if (init?.method === 'POST') posts.push(String(url))
        return String(url) === '/api/sync/push' ? json(status, { code: `http.${status}`, message: '', message_en: '' }) : original(url, init)
      }) as typeof fetch
      for (let i = 1; i <= 3; i++) await enqueue(caseOp(i))
      const { engine } = engineFor(server)
      await engine.run({ force: true })

      const items = await all()
      expect(items).toHaveLength(3) // never dropped
      for (const item of items) {
        expect(item.state).toBe('waiting') // never marked done
        expect(item.sentAt).toBeNull()
        expect(item.lastError).toContain('同步接口不可用')
        expect(item.lastError).toContain(`HTTP ${status}`)
        expect(item.nextAttemptAt).toBeGreaterThan(1_000_000)
      }
      expect(await unsentItems()).toHaveLength(3)
      expect(engine.state.lastError).toContain('同步接口不可用')
      expect(engine.state.nextRunAt).not.toBeNull()
      expect(engine.state.pending).toBe(3)
      // It stopped at the first refusal and tried no other route for the ops.
      expect(posts).toEqual(['/api/sync/push'])
      expect(server.cases.size).toBe(0)
    }
  })

  it('sends visit.record through /api/sync/push with the case operations, in the phone order', async () => {
    const server = fakeServer()
    const visitId = '00000000-0000-4000-9000-000000000001'
    await enqueue(caseOp(1))
    const visit = await enqueue({ type: 'visit.record', entityId: visitId, payload: { method: 'in_person', satisfaction: 'satisfied' }, label: '回访记录', userId: USER_ID })
    await enqueue(caseOp(2))
    const { engine } = engineFor(server)
    await engine.run({ force: true })

    expect(server.log.filter((l) => l.startsWith('POST'))).toEqual(['POST /api/sync/push'])
    expect(server.seenOps.get(visit.id)).toBe('applied')
    expect(server.cases.size).toBe(2)
    const items = await all()
    expect(items.every((i) => i.state === 'done')).toBe(true)
  })


  it('reports a missing /api/sync/pull as an error after the ops went through', async () => {
    const server = fakeServer() // it answers 404 to GET /api/sync/pull
    await enqueue(caseOp(1))
    const { engine } = engineFor(server, 5, new DataPuller())
    await engine.run({ force: true })
    expect((await all())[0].state).toBe('done')
    expect(engine.state.lastError).toContain('同步接口不可用（HTTP 404）')
    expect(engine.state.lastSyncAt).toBeNull()
    expect(engine.state.nextRunAt).not.toBeNull()
    expect(server.log.filter((l) => l.startsWith('GET'))).toEqual([expect.stringMatching(/^GET \/api\/sync\/pull\?/)])
  })
})

describe('backoff', () => {
  it('doubles from 5 s up to 5 minutes', () => {
    const mid = () => 0.5
    expect(backoffMs(1, mid)).toBe(5_000)
    expect(backoffMs(2, mid)).toBe(10_000)
    expect(backoffMs(4, mid)).toBe(40_000)
    expect(backoffMs(20, mid)).toBe(BACKOFF_MAX_MS)
    expect(backoffMs(1, () => 0)).toBe(4_000) // ±20 % jitter
  })
})
