import { describe, expect, it } from 'vitest'
import { agreementBody, emptyObligation, fieldLabel, missingFields, type AgreementDraft } from './agreement'

function written(over: Partial<AgreementDraft> = {}): AgreementDraft {
  return {
    form: 'written',
    facts: '堆放建材占道',
    matters: '通道占用',
    responsibilities: '张家负主要责任',
    obligations: [{ party: 0, content: '清走建材', manner: '自行清运', place: '共用通道', deadline: '2026-12-20' }],
    amount_yuan: '',
    content: '',
    ...over,
  }
}

describe('the agreement form marks what the server would refuse', () => {
  it('asks for nothing more when a written agreement is complete', () => {
    expect(missingFields(written())).toEqual([])
  })

  it('names each missing field, obligation by obligation', () => {
    const a = written({ facts: ' ', obligations: [written().obligations[0], { ...emptyObligation(), content: '道歉' }] })
    expect(missingFields(a)).toEqual(['facts', 'obligations[1].manner', 'obligations[1].place', 'obligations[1].deadline'])
    expect(fieldLabel('obligations[1].place')).toBe('第2项义务的履行地点')
    expect(missingFields(written({ obligations: [] }))).toEqual(['obligations'])
  })

  it('needs only the recorded content for an oral agreement', () => {
    expect(missingFields(written({ form: 'oral' }))).toEqual(['content'])
    expect(agreementBody(written({ form: 'oral', content: ' 当场清走 ' }))).toEqual({ form: 'oral', content: '当场清走' })
  })

  it('sends the amount in yuan with two decimals, and leaves out what is not a number', () => {
    expect(agreementBody(written({ amount_yuan: '1200.456' })).amount_yuan).toBe(1200.46)
    expect('amount_yuan' in agreementBody(written({ amount_yuan: '一千' }))).toBe(false)
  })
})
