import 'fake-indexeddb/auto'
import { beforeEach, describe, expect, it } from 'vitest'
import { db, getMeta, setMeta } from '../core/db'
import { DataPuller } from './pull'
import type { EngineApi } from './engine'
import type { CaseRecord } from '../cases/types'

function json(status: number, body: unknown): Response {
  return new Response(status === 304 ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

const caseView = (id: string, version: number, title = '案件') => ({ id, version, title, number: `N-${id}`, state: 'mediating', updated_at: `2026-11-2${version}T00:00:00Z`, events: [] })

/** `pullStatus`: what GET /sync/pull answers instead of the pages (a missing endpoint, say). */
function fakeApi(pages: unknown[], pullStatus = 200): EngineApi & { calls: string[] } {
  const calls: string[] = []
  let page = 0
  return {
    calls,
    signedIn: true,
    async ensureFresh() {},
    async raw(_method: string, path: string) {
      calls.push(path)
      if (path.startsWith('/sync/pull')) return pullStatus === 200 ? json(200, pages[page++]) : json(pullStatus, { code: `http.${pullStatus}`, message: '', message_en: '' })
      if (path.startsWith('/visits')) return json(200, { items: [{ id: 'v1', case_id: 'c1', case_number: 'N-c1', case_title: '案件', due_date: '2026-12-04', status: 'scheduled', seq: 1, of_total: 2 }] })
      if (path.startsWith('/inbox')) return json(200, { items: [{ id: 5, title: '今日回访', body: '', url: '/visits/v1', kind: 'visit_due', created_at: '2026-12-04T00:30:00Z', read_at: null }], unread: 1 })
      // A phone without regions asks for them (none here), as the real server answers.
      if (path.startsWith('/grids')) return json(200, { type: 'FeatureCollection', features: [] })
      if (path.startsWith('/regions')) return json(200, [])
      return json(404, { code: 'not_found' })
    },
  }
}

const REFERENCE = {
  categories: { version: 'c1', data: [{ code: 'neighbour', name: '邻里纠纷', national_category: '邻里纠纷', active: true }] },
  divisions: { version: 'd1', data: [{ code: '530524101000', name: '田园镇', level: 'township', parent_code: null }, { code: '530524101001', name: '关庙社区', level: 'village', parent_code: '530524101000' }] },
  grids: { version: 'g1', data: { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { code: '530524101001001', name: '第1网格', parent_code: '530524101001' }, geometry: { type: 'Polygon', coordinates: [[[99.6, 24.82], [99.61, 24.82], [99.61, 24.83], [99.6, 24.82]]] } }] } },
}

beforeEach(async () => {
  await Promise.all([db.cases.clear(), db.meta.clear(), db.grids.clear(), db.categories.clear(), db.visits.clear(), db.inbox.clear()])
})

describe('pull', () => {
  it('applies pages in order, keeps the cursor and reference versions, drops cases that left scope', async () => {
    await db.cases.put({ id: 'gone', view: caseView('gone', 1) as never, detailed: true, localOnly: false, state: 'mediating', updatedAt: '', localPhotos: [] })
    const api = fakeApi([
      { changes: [{ kind: 'case', op: 'upsert', id: 'c1', version: 1, case: caseView('c1', 1) }], cursor: '10.s', more: true, reference: REFERENCE },
      { changes: [{ kind: 'case', op: 'upsert', id: 'c1', version: 2, case: caseView('c1', 2, '改后') }, { kind: 'case', op: 'left_scope', id: 'gone' }], cursor: '12.s', more: false },
    ])
    await new DataPuller().pull(api)
    expect((await db.cases.get('c1'))?.view.title).toBe('改后')
    expect(await db.cases.get('gone')).toBeUndefined()
    expect(await getMeta('pullCursor', '')).toBe('12.s')
    expect(await getMeta('refVersions', {})).toEqual({ categories: 'c1', divisions: 'd1', grids: 'g1' })
    expect((await db.categories.toArray()).map((c) => c.name)).toEqual(['邻里纠纷'])
    expect((await db.grids.toArray()).map((g) => g.level).sort()).toEqual(['grid', 'township', 'village'])
    expect((await db.visits.get('v1'))?.state).toBe('pending')
    expect((await db.inbox.get('5'))?.title).toBe('今日回访')
    // The second page asked with the cursor and the versions it already holds.
    expect(api.calls[1]).toContain('cursor=10.s')
    expect(decodeURIComponent(api.calls[1])).toContain('ref=categories:c1,divisions:d1,grids:g1')
  })

  it('on reset drops what it held, but never a case that is only on this phone', async () => {
    const keep: CaseRecord = { id: 'mine', view: caseView('mine', 0) as never, detailed: true, localOnly: true, state: 'draft', updatedAt: '', localPhotos: [] }
    await db.cases.bulkPut([keep, { ...keep, id: 'old', localOnly: false }])
    await new DataPuller().pull(fakeApi([{ changes: [], cursor: '1.t', more: false, reset: true }]))
    expect((await db.cases.toArray()).map((c) => c.id)).toEqual(['mine'])
  })

  it('keeps unsent actions on show over the server view', async () => {
    const local = { id: 'local-1', at: '', action: 'note', actor: '王德明', data: { text: '谈话' }, local: true }
    await db.cases.put({ id: 'c1', view: { ...caseView('c1', 1), events: [local] } as never, detailed: true, localOnly: false, state: 'mediating', updatedAt: '', localPhotos: [] })
    await new DataPuller().pull(fakeApi([{ changes: [{ kind: 'case', op: 'upsert', id: 'c1', version: 2, case: caseView('c1', 2) }], cursor: '3.s', more: false }]))
    expect((await db.cases.get('c1'))?.view.events?.map((e) => e.id)).toEqual(['local-1'])
  })

  it('fails on a missing /sync/pull (404/405) instead of reading other endpoints, and keeps what it held', async () => {
    for (const status of [404, 405]) {
      await db.cases.put({ id: 'c1', view: caseView('c1', 1) as never, detailed: true, localOnly: false, state: 'mediating', updatedAt: '', localPhotos: [] })
      await setMeta('pullCursor', '7.s')
      const api = fakeApi([], status)
      await expect(new DataPuller().pull(api)).rejects.toMatchObject({ status, message: expect.stringContaining(`同步接口不可用（HTTP ${status}）`) })
      expect(api.calls).toHaveLength(1)
      expect(api.calls[0]).toMatch(/^\/sync\/pull\?/)
      expect(await getMeta('pullCursor', '')).toBe('7.s')
      expect(await db.cases.get('c1')).toBeDefined()
    }
  })
})

describe('a supervisor keeps no offline copy of the area', () => {
  it('drops what an earlier pull stored (once), keeps unsent work, and stores no case from the feed', async () => {
    const stored = (id: string, localOnly = false) => ({ id, view: caseView(id, 1) as never, detailed: true, localOnly, state: 'mediating', updatedAt: '', localPhotos: [] })
    await db.cases.bulkPut([stored('old1'), stored('old2'), stored('draft', true)])
    const api = fakeApi([
      { changes: [{ kind: 'case', op: 'upsert', id: 'c1', version: 1, case: caseView('c1', 1) }], cursor: '10.s', more: false, reference: REFERENCE },
      { changes: [], cursor: '10.s', more: false },
    ])
    const puller = new DataPuller(() => false)
    await puller.pull(api)
    expect((await db.cases.toArray()).map((c) => c.id)).toEqual(['draft'])
    expect(await getMeta('pullCursor', '')).toBe('10.s')
    expect((await db.categories.toArray()).map((c) => c.name)).toEqual(['邻里纠纷']) // reference data still comes
    // A case the supervisor opened afterwards (GET /api/cases/{id}) stays through the next pull.
    await db.cases.put(stored('opened'))
    await puller.pull(api)
    expect((await db.cases.toArray()).map((c) => c.id).sort()).toEqual(['draft', 'opened'])
  })
})
