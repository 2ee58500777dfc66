import { describe, expect, it, vi } from 'vitest'
import { ApiClient, tokensFrom } from '../core/api'
import { AdminApi, auditQuery, query } from './api'
import { actionLabel, dayBound, detailText } from './audit'
import { parseOffsets } from './policies'
import { fieldErrors } from './validate'

function client(handler: (method: string, path: string, body: unknown) => Response) {
  const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => handler(init?.method ?? 'GET', String(url), init?.body ? JSON.parse(String(init.body)) : undefined))
  const c = new ApiClient({ fetch: fetch as unknown as typeof globalThis.fetch, now: () => 1_000 })
  c.setTokens(tokensFrom({ access_token: 'a', refresh_token: 'r', token_type: 'bearer', expires_in: 900, refresh_expires_in: 2592000, user: {} as never }, 1_000))
  return { api: new AdminApi(c), fetch }
}

const ok = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })

describe('admin api', () => {
  it('leaves empty filters out of the query', () => {
    expect(query({ q: '王', township: '', team_id: '', role: 'mediator', active: undefined, cursor: null, limit: 50 })).toBe('?q=%E7%8E%8B&role=mediator&limit=50')
  })

  it('sends the audit filters under the server names', () => {
    expect(auditQuery({ case_id: 'c1', user_id: 4, since: '2026-12-01T00:00:00.000Z', limit: 100 })).toBe('?case=c1&user=4&since=2026-12-01T00%3A00%3A00.000Z&limit=100')
  })

  it('disables and resets with the contract paths', async () => {
    const seen: string[] = []
    const { api } = client((m, p) => {
      seen.push(`${m} ${p}`)
      return ok(p.endsWith('reset-password') ? { one_time_password: 'Qm4-7xk-2pd' } : { id: 5, active: false })
    })
    await api.setActive(5, false)
    await api.setActive(5, true)
    expect((await api.resetPassword(5)).one_time_password).toBe('Qm4-7xk-2pd')
    expect(seen).toEqual(['POST /api/admin/users/5/disable', 'POST /api/admin/users/5/enable', 'POST /api/admin/users/5/reset-password'])
  })

  it('lists teams from /api/teams when the server has no /api/admin/teams yet', async () => {
    const { api } = client((_m, p) => {
      if (p.startsWith('/api/admin/teams')) return new Response(JSON.stringify({ code: 'http.404', message: '未找到' }), { status: 404 })
      return ok([{ id: 1, name: '关庙社区红色调解队', township: null, villages: [], members: [], leader: null }, { id: 2, name: '卡斯社区红色调解队', township: null, villages: [], members: [], leader: null }])
    })
    const teams = await api.listTeams('', '关庙')
    expect(teams.map((t) => [t.name, t.active])).toEqual([['关庙社区红色调解队', true]])
  })
})

describe('console checks', () => {
  const base = { username: 'wang.dm', displayName: '王德明', phone: '', password: '', scopeCode: '530524101001', teamRequired: false }

  it('accepts a correct new account', () => {
    expect(fieldErrors(base)).toEqual({})
  })

  it('says what is wrong, in Chinese, per field', () => {
    expect(fieldErrors({ ...base, username: 'Wang DM', displayName: '  ', phone: '1381234567', password: 'short', scopeCode: '', teamRequired: true })).toEqual({
      username: '用户名只能用小写字母、数字和 . _ -，3–32 位',
      displayName: '请填写姓名',
      phone: '手机号码应为 11 位（现在 10 位）',
      password: '密码至少 8 位',
      scopeCode: '请选择乡镇',
      team: '调解队长须选择所在调解队',
    })
  })

  it('does not check the username of an existing account', () => {
    expect(fieldErrors({ ...base, username: null })).toEqual({})
  })

  it('parses visit days in any separator, sorted', () => {
    expect(parseOffsets('30，3、 7')).toEqual({ days: [3, 7, 30], error: '' })
    expect(parseOffsets('3, 3').error).toBe('回访天数不能重复')
    expect(parseOffsets('0').error).toBe('天数应在 1 到 365 之间')
    expect(parseOffsets('三天').error).toBe('“三天”不是天数，请只填数字')
    expect(parseOffsets('').error).toBe('请填写结案后第几天回访，如 3, 30')
  })

  it('turns county dates into instants: a whole day, in Beijing time', () => {
    expect(dayBound('2026-12-03')).toBe('2026-12-02T16:00:00.000Z')
    expect(dayBound('2026-12-03', true)).toBe('2026-12-03T16:00:00.000Z')
    expect(dayBound('')).toBeUndefined()
  })

  it('labels audit actions and details', () => {
    expect(actionLabel('case.read_personal')).toBe('查看当事人信息')
    expect(actionLabel('case.assign')).toBe('办理：assign')
    expect(actionLabel('something.new')).toBe('something.new')
    expect(detailText({ detail: { fields: ['id_number', 'name'], reason: 'x' } })).toBe('字段：身份证号、姓名；reason：x')
  })
})
