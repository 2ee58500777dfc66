import { describe, expect, it } from 'vitest'
import { consumeBootTyped, takeBootForm } from './boot'

/** Just enough of a Document: the ids index.html's sign-in form has. */
function page(fields: Record<string, string>, focused = ''): Document {
  const elements: Record<string, { id: string; value?: string }> = { 'boot-login': { id: 'boot-login' } }
  for (const [id, value] of Object.entries(fields)) elements[id] = { id, value }
  return {
    getElementById: (id: string) => elements[id] ?? null,
    activeElement: focused ? elements[focused] : null,
  } as unknown as Document
}

describe("index.html's sign-in form", () => {
  it('hands what was typed, and the field being typed in, to the app once', () => {
    takeBootForm(page({ 'boot-username': 'mediator1', 'boot-password': 'demo-2026' }, 'boot-password'))
    expect(consumeBootTyped()).toEqual({ username: 'mediator1', password: 'demo-2026', focused: 'password' })
    expect(consumeBootTyped()).toBeNull() // a later visit to the sign-in screen starts empty
  })

  it('gives nothing when the page has no such form (the service worker removed it)', () => {
    takeBootForm({ getElementById: () => null, activeElement: null } as unknown as Document)
    expect(consumeBootTyped()).toBeNull()
  })
})
