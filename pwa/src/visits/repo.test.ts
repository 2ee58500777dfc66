import { describe, expect, it } from 'vitest'
import { recordBody, unanswered, type VisitForm } from './repo'

function form(over: Partial<VisitForm> = {}): VisitForm {
  return { method: 'in_person', satisfaction: 'satisfied', recurred: false, performance: null, notes: '', photos: [], fix: null, ...over }
}

describe('a written agreement is checked obligation by obligation', () => {
  it('asks for each obligation instead of the whole', () => {
    expect(unanswered(form({ obligations: ['performed', null] }), true)).toEqual(['obligation-1'])
    expect(unanswered(form(), true)).toEqual(['performance'])
  })

  it('sends each answer with its index and leaves the whole to the server', () => {
    const body = recordBody(form({ performance: 'partly', obligations: ['performed', 'not_performed'] }))
    expect(body.obligations).toEqual([
      { obligation: 0, performance: 'performed' },
      { obligation: 1, performance: 'not_performed' },
    ])
    expect('performance' in body).toBe(false)
  })
})
