import { describe, expect, it, vi } from 'vitest'
import { ApiClient, tokensFrom } from '../core/api'
import { ApiError } from '../core/errors'
import { changePassword, mustChangePassword, noteSignIn, passwordState, weakPasswordReason } from './password'

describe('one-time password sign-in', () => {
  it('asks for a new password only for the user who signed in with a one-time one', () => {
    noteSignIn('mediator1', true, 'Xk7-one-time')
    expect(mustChangePassword('mediator1')).toBe(true)
    expect(mustChangePassword('mediator2')).toBe(false)
    expect(passwordState.oneTimePassword).toBe('Xk7-one-time')
    noteSignIn('mediator1', false, 'demo-2026')
    expect(mustChangePassword('mediator1')).toBe(false)
    expect(passwordState.oneTimePassword).toBe('') // an ordinary password is never kept
  })

  it('changes the password, forgets the flag and refreshes the tokens', async () => {
    const calls: string[] = []
    const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
      calls.push(`${init?.method} ${String(url)} ${String(init?.body ?? '')}`)
      if (String(url) === '/api/me/password') return new Response(null, { status: 204 })
      return new Response(
        JSON.stringify({ access_token: 'a2', refresh_token: 'r2', token_type: 'bearer', expires_in: 900, refresh_expires_in: 2592000, user: { id: 1 } }),
        { status: 200, headers: { 'Content-Type': 'application/json' } },
      )
    })
    const client = new ApiClient({ fetch: fetch as unknown as typeof globalThis.fetch, now: () => 1_000 })
    client.setTokens(tokensFrom({ access_token: 'a', refresh_token: 'r', token_type: 'bearer', expires_in: 900, refresh_expires_in: 2592000, user: {} as never }, 1_000))
    noteSignIn('mediator1', true, 'Xk7-one-time')
    await changePassword('Xk7-one-time', 'Lancang-river-8', client)
    expect(calls[0]).toBe('POST /api/me/password {"old_password":"Xk7-one-time","new_password":"Lancang-river-8"}')
    expect(calls[1]).toMatch(/^POST \/api\/auth\/refresh /)
    expect(mustChangePassword('mediator1')).toBe(false)
    expect(client.getTokens()?.accessToken).toBe('a2')
  })

  it('keeps the flag when the server refuses the new password, with its Chinese reason', async () => {
    const fetch = vi.fn(async () =>
      new Response(JSON.stringify({ code: 'auth.weak_password', message: '密码太常见，请换一个', message_en: 'weak' }), { status: 400, headers: { 'Content-Type': 'application/json' } }),
    )
    const client = new ApiClient({ fetch: fetch as unknown as typeof globalThis.fetch, now: () => 1_000 })
    client.setTokens(tokensFrom({ access_token: 'a', refresh_token: 'r', token_type: 'bearer', expires_in: 900, refresh_expires_in: 2592000, user: {} as never }, 1_000))
    noteSignIn('mediator1', true, 'Xk7-one-time')
    const err = (await changePassword('Xk7-one-time', 'woaini1314', client).catch((e: unknown) => e)) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect(err.code).toBe('auth.weak_password')
    expect(err.message).toBe('密码太常见，请换一个')
    expect(mustChangePassword('mediator1')).toBe(true)
  })
})

describe('weakPasswordReason', () => {
  it.each([
    ['short', 'abc123', '密码至少 8 位。'],
    ['the username', 'Mediator1', '密码不能与用户名相同。'],
    ['one repeated digit', '88888888', '密码不能是同一个字符重复。'],
    ['a run of digits', '12345678', '密码不能是连续数字。'],
    ['a run down', '87654321', '密码不能是连续数字。'],
  ])('refuses %s', (_what, pw, reason) => {
    expect(weakPasswordReason(pw, 'mediator1')).toBe(reason)
  })

  it('accepts a long private one', () => {
    expect(weakPasswordReason('Lancang-river-8', 'mediator1')).toBe('')
  })
})
