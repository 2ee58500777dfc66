import 'fake-indexeddb/auto'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiClient, tokensFrom } from '../core/api'
import { db } from '../core/db'
import { SyncEngine } from '../sync/engine'
import { enqueue } from '../sync/outbox'
import { DeviceWipe, WIPE_NOTICE, WIPE_RETRY_MS, wipeNotice } from './wipe'

const USER_ID = 7

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })
}

/** A server that has asked this device to wipe: every answer carries the header. */
function wipingServer() {
  const received: string[] = []
  const log: string[] = []
  const state = { offline: false, wipe: true }
  const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const path = String(url)
    log.push(`${init?.method ?? 'GET'} ${path}`)
    if (state.offline) throw new TypeError('Failed to fetch')
    const headers: Record<string, string> = state.wipe ? { 'Fengqiao-Wipe': 'requested' } : {}
    if (path === '/api/sync/push') {
      const ops = (JSON.parse(String(init?.body)) as { ops: { op_id: string; entity_id: string }[] }).ops
      ops.forEach((o) => received.push(o.entity_id))
      return json(200, { results: ops.map((o) => ({ op_id: o.op_id, status: 'applied', server_version: 1 })) }, headers)
    }
    if (path === '/api/me/wiped') return new Response(null, { status: 204, headers })
    if (path === '/api/me') return json(200, { id: USER_ID }, headers)
    return json(404, { code: 'not_found', message: '未找到', message_en: 'Not found' }, headers)
  })
  return { fetch: fetch as unknown as typeof globalThis.fetch, received, log, state }
}

function setup(server: ReturnType<typeof wipingServer>, now = () => 1_000_000) {
  const api = new ApiClient({ fetch: server.fetch, now: () => 1_000_000 })
  api.setTokens(tokensFrom({ access_token: 'a', refresh_token: 'r', token_type: 'bearer', expires_in: 900, refresh_expires_in: 2592000, user: {} as never }, 1_000_000))
  const engine = new SyncEngine({ api, userId: () => USER_ID, now: () => 1_000_000, random: () => 0.5 })
  const ended = vi.fn(async () => {})
  const wipe = new DeviceWipe({
    api,
    db,
    pushOutbox: () => engine.run({ force: true }),
    unsentCount: async () => (await db.outbox.where('state').anyOf(['waiting', 'sending']).toArray()).filter((r) => r.userId === USER_ID).length,
    endSession: ended,
    now,
  })
  return { api, engine, wipe, ended }
}

async function unsentCase(i: number) {
  const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`
  await enqueue({ type: 'case.create', entityId: id, payload: { id, title: `案件 ${i}` }, label: `登记纠纷：案件 ${i}`, userId: USER_ID })
  await db.cases.put({ id } as never)
  return id
}

beforeEach(async () => {
  await Promise.all(db.tables.map((t) => t.clear()))
  wipeNotice.value = ''
})

describe('device wipe', () => {
  it('sends the unsent case first, then deletes everything local and tells the server', async () => {
    const server = wipingServer()
    const { wipe, ended } = setup(server)
    const id = await unsentCase(1)
    await db.session.put({ key: 'current', user: { id: USER_ID } } as never)
    await db.meta.put({ key: 'lastSyncAt', value: 1 })

    expect(await wipe.run()).toBe('wiped')

    expect(server.received).toEqual([id]) // the server got the case before anything was deleted
    const push = server.log.indexOf('POST /api/sync/push')
    const wiped = server.log.indexOf('POST /api/me/wiped')
    expect(push).toBeGreaterThanOrEqual(0)
    expect(wiped).toBeGreaterThan(push)
    for (const t of db.tables) expect(await t.count(), t.name).toBe(0)
    expect(ended).toHaveBeenCalledOnce()
    expect(wipeNotice.value).toBe(WIPE_NOTICE)
  })

  it('keeps everything while the outbox cannot be sent, and wipes at a later contact', async () => {
    const server = wipingServer()
    let now = 1_000_000
    const { wipe, ended } = setup(server, () => now)
    const id = await unsentCase(2)
    server.state.offline = true

    expect(await wipe.run()).toBe('waiting')
    expect(await db.outbox.count()).toBe(1)
    expect(await db.cases.get(id)).toBeTruthy()
    expect(ended).not.toHaveBeenCalled()
    expect(server.log).not.toContain('POST /api/me/wiped')

    // Too soon after the last try: not attempted again (every answer carries the header).
    server.state.offline = false
    expect(await wipe.run()).toBe('skipped')
    now += WIPE_RETRY_MS
    expect(await wipe.run()).toBe('wiped')
    expect(server.received).toEqual([id])
    expect(await db.outbox.count()).toBe(0)
    expect(ended).toHaveBeenCalledOnce()
  })

  it('starts from the header on any answer, once', async () => {
    vi.useFakeTimers()
    try {
      const server = wipingServer()
      const { api, wipe } = setup(server)
      const run = vi.spyOn(wipe, 'run').mockResolvedValue('wiped')
      const stop = wipe.install()
      await api.get('/me')
      await api.get('/me')
      expect(run).not.toHaveBeenCalled() // not inside the request that carried the header
      vi.runAllTimers()
      expect(run).toHaveBeenCalledTimes(2) // the wipe itself is single-flight and rate-limited
      stop()
      server.state.wipe = true
      await api.get('/me')
      vi.runAllTimers()
      expect(run).toHaveBeenCalledTimes(2)
    } finally {
      vi.useRealTimers()
    }
  })

  it('ignores answers without the header', async () => {
    vi.useFakeTimers()
    try {
      const server = wipingServer()
      server.state.wipe = false
      const { api, wipe } = setup(server)
      const run = vi.spyOn(wipe, 'run')
      wipe.install()
      await api.get('/me')
      vi.runAllTimers()
      expect(run).not.toHaveBeenCalled()
    } finally {
      vi.useRealTimers()
    }
  })

  it('does not hold the wipe for items the server already refused', async () => {
    const server = wipingServer()
    const { wipe } = setup(server)
    const id = await unsentCase(3)
    await db.outbox.where('entityId').equals(id).modify({ state: 'failed' })
    expect(await wipe.run()).toBe('wiped')
    expect(server.received).toEqual([]) // a failed item is not resent by a normal run
    expect(await db.outbox.count()).toBe(0)
  })
})
