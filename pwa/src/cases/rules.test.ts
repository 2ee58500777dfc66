import { describe, expect, it } from 'vitest'
import { checkAmount, checkPeople, localAllowed, nextStep, predictedState, predictedSupervision } from './rules'
import { kindOfDevice } from '../core/device'
import type { CaseView } from './types'
import type { User } from '../people/types'

const TEAM = { id: 7, name: '关庙社区红色调解队' }
function user(role: User['role'], id = 1): User {
  return { id, username: role, display_name: role, role, role_label: '', scope: { level: 'village', code: '530524101001', name: '关庙社区' }, team: TEAM }
}
function kase(over: Partial<CaseView> = {}): CaseView {
  return {
    id: 'c1', number: '', category: 'neighbour', category_name: '邻里纠纷', title: 't', level: 'small', state: 'draft', township: null, village: null,
    grid: null, lon: 0, lat: 0, locate_status: null, parties: [], photo_count: 0, reported_at: '', updated_at: '', deadline: null, overdue: false,
    conflict: false, version: 0, owner_level: 'team', owner_team: TEAM, mediator: { id: 1, name: '王德明' }, ...over,
  }
}

describe('what the phone offers while the server cannot be asked', () => {
  it('lets a mediator note and settle their own unsent 小事 on the spot, then close it', () => {
    const mediator = user('mediator')
    expect(localAllowed(mediator, kase())).toEqual(['note', 'update', 'resolve', 'set_confidential'])
    const resolved = kase({ state: predictedState(kase(), 'resolve') })
    expect(resolved.state).toBe('resolved')
    expect(localAllowed(mediator, resolved)).toContain('close')
  })

  it('does not offer settling a 难事 before it is accepted, and says who acts next', () => {
    const hard = kase({ level: 'hard' })
    expect(localAllowed(user('mediator'), hard)).not.toContain('resolve')
    expect(nextStep(hard)).toBe('等待调解队长受理')
  })

  it('gives the team leader accept, reject, assign and escalate on the team\'s new case', () => {
    const allowed = localAllowed(user('team_leader', 2), kase({ state: 'reported', mediator: null }))
    expect(allowed).toEqual(expect.arrayContaining(['accept', 'reject', 'assign', 'escalate']))
    expect(predictedState(kase({ state: 'reported' }), 'accept')).toBe('mediating')
  })

  it('offers a leader (包案领导) only a note and 督办, and supervisors the leader in charge', () => {
    const leader = { ...user('leader', 9), team: null }
    expect(localAllowed(leader, kase({ state: 'mediating' }))).toEqual(['note', 'supervise'])
    expect(localAllowed(leader, kase({ state: 'mediating', supervision: 'issued' }))).toEqual(['note'])
    expect(localAllowed(user('township_supervisor', 3), kase({ state: 'mediating' }))).toContain('assign_leader')
    expect(localAllowed(user('team_leader', 2), kase({ state: 'mediating' }))).not.toContain('assign_leader')
  })

  it('offers only a note to a mediator of another team who sees the case', () => {
    const other = { ...user('mediator', 9), team: { id: 99, name: '卡斯社区红色调解队' } }
    expect(localAllowed(other, kase({ state: 'mediating', mediator: null }))).toEqual(['note'])
  })
})

describe('device names', () => {
  it('names a desktop browser 电脑, a phone 手机', () => {
    expect(kindOfDevice('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36')).toBe('电脑')
    expect(kindOfDevice('Mozilla/5.0 (Linux; Android 13; M2012K11AC) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36')).toBe('手机')
  })
})

describe('督办 on the phone', () => {
  it('lets the team leader sign for an order offline and then report, never the supervisor', () => {
    const leader = user('team_leader', 2)
    const issued = kase({ state: 'mediating', supervision: 'issued' })
    expect(localAllowed(leader, issued)).toContain('acknowledge_supervision')
    expect(localAllowed(leader, issued)).not.toContain('report_supervision')
    expect(localAllowed(user('mediator'), issued)).not.toContain('acknowledge_supervision')
    const supervisor = localAllowed(user('township_supervisor', 9), issued)
    expect(supervisor).not.toContain('acknowledge_supervision')
    expect(supervisor).not.toContain('supervise') // one open order at a time
    const acknowledged = kase({ state: 'mediating', supervision: predictedSupervision(issued, 'acknowledge_supervision') })
    expect(localAllowed(leader, acknowledged)).toContain('report_supervision')
    const reported = kase({ state: 'mediating', supervision: predictedSupervision(acknowledged, 'report_supervision') })
    expect(localAllowed(user('township_supervisor', 9), reported)).toEqual(expect.arrayContaining(['accept_supervision', 'return_supervision']))
    expect(predictedSupervision(reported, 'accept_supervision')).toBeNull()
    expect(predictedSupervision(reported, 'note')).toBe('reported')
  })
})

describe('checkPeople', () => {
  it('takes an empty field (the parties count) or a whole number from 1 to 100000', () => {
    expect(checkPeople('')).toBe('')
    expect(checkPeople(' 12 ')).toBe('')
    expect(checkPeople('100000')).toBe('')
  })
  it('refuses zero, fractions, huge numbers and text with a Chinese message', () => {
    for (const bad of ['0', '2.5', '100001', '99999999999999999999', 'abc', '-3']) {
      expect(checkPeople(bad)).toMatch(/涉及人数应为 1 到 100000 之间的整数/)
    }
  })
})

describe('checkAmount', () => {
  it('takes an empty field or yuan with at most two decimals', () => {
    for (const ok of ['', ' ', '0', '150000', '2500.5', '999999999999']) expect(checkAmount(ok)).toBe('')
  })
  it('refuses negatives, text, three decimals and more than the server keeps', () => {
    for (const bad of ['-1', '十万', '1.234', '1e5', '1000000000000']) expect(checkAmount(bad)).toMatch(/涉及金额应为/)
  })
})
