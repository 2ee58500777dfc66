import { describe, expect, it, vi } from 'vitest'
import { ApiClient, tokensFrom } from './api'
import { ApiError, MSG_DEVICE_REVOKED, NetworkError } from './errors'
import type { AuthResponse, Tokens } from './types'
import type { User } from '../people/types'

const USER: User = {
  id: 1,
  username: 'lisi',
  display_name: '李四',
  role: 'mediator',
  role_label: '调解员',
  scope: { level: 'village', code: '530524101201', name: '右甸村' },
  team: { id: 7, name: '右甸村红色调解队' },
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })
}

function auth(n: number): AuthResponse {
  return {
    access_token: `access-${n}`,
    refresh_token: `refresh-${n}`,
    token_type: 'bearer',
    expires_in: 900,
    refresh_expires_in: 30 * 86400,
    user: USER,
  }
}

/** A fake server: access tokens listed in `valid` are accepted; each refresh rotates the token. */
function fakeServer() {
  const state = { refreshCalls: 0, generation: 1, valid: new Set(['access-1']), currentRefresh: 'refresh-1' }
  const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const path = String(url)
    const headers = (init?.headers ?? {}) as Record<string, string>
    if (path === '/api/auth/refresh') {
      state.refreshCalls++
      await new Promise((r) => setTimeout(r, 5)) // let concurrent callers pile up
      const body = JSON.parse(String(init?.body)) as { refresh_token: string }
      if (body.refresh_token !== state.currentRefresh) {
        return json(401, { code: 'auth.refresh_invalid', message: '登录已失效', message_en: 'invalid' })
      }
      state.generation++
      state.valid = new Set([`access-${state.generation}`])
      state.currentRefresh = `refresh-${state.generation}`
      return json(200, auth(state.generation))
    }
    const token = headers.Authorization?.replace('Bearer ', '')
    if (!token || !state.valid.has(token)) {
      return json(401, { code: 'auth.token_expired', message: '登录已过期', message_en: 'expired' })
    }
    return json(200, USER)
  })
  return { state, fetch }
}

function clientWith(fetch: typeof globalThis.fetch, tokens: Tokens, now = () => 1_000_000) {
  const saved: Tokens[] = []
  const ended: [string, ApiError][] = []
  const client = new ApiClient({
    fetch,
    now,
    onTokens: (t) => void saved.push(t),
    onSessionEnded: (reason, err) => void ended.push([reason, err]),
  })
  client.setTokens(tokens)
  return { client, saved, ended }
}

describe('ApiClient refresh', () => {
  it('shares one refresh among concurrent 401 auth.token_expired and retries each call once', async () => {
    const server = fakeServer()
    server.state.valid = new Set() // the server already considers access-1 expired
    const { client, saved } = clientWith(server.fetch as typeof fetch, tokensFrom(auth(1), 1_000_000))

    const users = await Promise.all([client.me(), client.me(), client.me(), client.me()])

    expect(users.map((u) => u.display_name)).toEqual(['李四', '李四', '李四', '李四'])
    expect(server.state.refreshCalls).toBe(1)
    expect(saved.map((t) => t.refreshToken)).toEqual(['refresh-2']) // the rotated token is persisted
    expect(client.getTokens()?.accessToken).toBe('access-2')
  })

  it('refreshes once, proactively, when the access token is about to expire', async () => {
    const server = fakeServer()
    let now = 1_000_000
    const { client } = clientWith(server.fetch as typeof fetch, tokensFrom(auth(1), now), () => now)
    now += 890 * 1000 // 10 s before expiry: inside the leeway

    await Promise.all([client.me(), client.me(), client.me()])

    expect(server.state.refreshCalls).toBe(1)
    const calls = server.fetch.mock.calls.map(([u]) => String(u))
    expect(calls.filter((u) => u === '/api/me')).toHaveLength(3) // no failed first attempts
    expect(client.getTokens()?.refreshToken).toBe('refresh-2')
  })

  it('ends the session with the Chinese message when the device was revoked', async () => {
    const fetch = vi.fn(async () =>
      json(401, { code: 'auth.device_revoked', message: '设备已停用', message_en: 'Device revoked' }),
    )
    const { client, ended } = clientWith(fetch as typeof globalThis.fetch, tokensFrom(auth(1), 1_000_000))

    const err = await client.me().catch((e: unknown) => e)

    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).code).toBe('auth.device_revoked')
    expect((err as ApiError).message).toBe(MSG_DEVICE_REVOKED)
    expect(ended.map(([r]) => r)).toEqual(['revoked'])
    expect(client.signedIn).toBe(false)
    expect(fetch).toHaveBeenCalledTimes(1) // no refresh attempt
  })
})

describe('ApiClient errors', () => {
  it('turns a failed fetch into a NetworkError with a Chinese message', async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError('Failed to fetch')
    })
    const client = new ApiClient({ fetch: fetch as typeof globalThis.fetch })
    const err = await client.login('lisi', 'pw', '手机-TEST').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NetworkError)
    expect((err as Error).message).toContain('网络不可用')
  })

  it('keeps the server message, code and Retry-After', async () => {
    const fetch = vi.fn(async () =>
      json(429, { code: 'auth.too_many_attempts', message: '尝试次数过多', message_en: 'Too many' }, { 'Retry-After': '30' }),
    )
    const client = new ApiClient({ fetch: fetch as typeof globalThis.fetch })
    const err = (await client.login('lisi', 'bad', '手机-TEST').catch((e: unknown) => e)) as ApiError
    expect(err.status).toBe(429)
    expect(err.code).toBe('auth.too_many_attempts')
    expect(err.message).toBe('尝试次数过多')
    expect(err.retryAfter).toBe(30)
  })
})
