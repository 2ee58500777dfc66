/**
 * The HTTP client for /api. Knows nothing of Vue or Dexie: persistence and "signed out" handling are
 * callbacks, so it can be unit-tested with a fake fetch.
 *
 * Tokens: the access token is refreshed shortly before it expires and, failing that, on a 401
 * `auth.token_expired` (then the request is retried once). Refreshes are single-flight: concurrent
 * callers share one POST /api/auth/refresh, because the refresh token is rotated and the old one must
 * never be presented twice.
 */
import {
  ApiError,
  AUTH_DEVICE_REVOKED,
  AUTH_TOKEN_EXPIRED,
  MSG_DEVICE_REVOKED,
  MSG_SESSION_EXPIRED,
  MSG_TIMEOUT,
  NetworkError,
} from './errors'
import type { AuthResponse, Tokens } from './types'
import type { User } from '../people/types'

export type SessionEndReason = 'revoked' | 'expired'

/** Sees every response the server sent (headers and status only; the body belongs to the caller). */
export type ResponseObserver = (res: Response, method: string, path: string) => void

export interface ApiClientOptions {
  /** Base path of the API; same origin. */
  baseUrl?: string
  fetch?: typeof fetch
  now?: () => number
  /** Abort a request after this long (rural networks hang rather than fail). */
  timeoutMs?: number
  /** Called (and awaited) whenever new tokens arrive: the rotated refresh token must be saved. */
  onTokens?: (tokens: Tokens, user: User) => void | Promise<void>
  /** Called when the server ended the session (device revoked, refresh token expired or invalid). */
  onSessionEnded?: (reason: SessionEndReason, error: ApiError) => void | Promise<void>
  /**
   * Runs the refresh under a cross-tab lock (navigator.locks) when given. Inside the lock the client
   * calls `reloadTokens` so a refresh already done by another tab is adopted instead of repeated.
   */
  withLock?: <T>(fn: () => Promise<T>) => Promise<T>
  reloadTokens?: () => Promise<Tokens | null>
}

export interface RequestOptions {
  body?: unknown
  /** Send the bearer token (default true). */
  auth?: boolean
  headers?: Record<string, string>
  signal?: AbortSignal
}

/** Refresh this long before expiry, but never more than a fifth of the token's lifetime early. */
const REFRESH_LEEWAY_MS = 60_000

export function tokensFrom(res: AuthResponse, now: number): Tokens {
  const lifeMs = Math.max(0, res.expires_in) * 1000
  return {
    accessToken: res.access_token,
    accessExpiresAt: now + lifeMs,
    accessRefreshAt: now + lifeMs - Math.min(REFRESH_LEEWAY_MS, lifeMs / 5),
    refreshToken: res.refresh_token,
    refreshExpiresAt: now + Math.max(0, res.refresh_expires_in) * 1000,
  }
}

export class ApiClient {
  private tokens: Tokens | null = null
  private refreshing: Promise<Tokens> | null = null
  private readonly baseUrl: string
  private readonly fetchFn: typeof fetch
  private readonly now: () => number
  private readonly timeoutMs: number
  private readonly opts: ApiClientOptions
  private readonly observers = new Set<ResponseObserver>()

  constructor(opts: ApiClientOptions = {}) {
    this.opts = opts
    this.baseUrl = (opts.baseUrl ?? '/api').replace(/\/$/, '')
    // Bind: calling window.fetch with another `this` throws "Illegal invocation".
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.now = opts.now ?? Date.now
    this.timeoutMs = opts.timeoutMs ?? 20_000
  }

  /** Adopt tokens restored from storage (or null to forget them). */
  setTokens(tokens: Tokens | null): void {
    this.tokens = tokens
  }

  getTokens(): Tokens | null {
    return this.tokens
  }

  get signedIn(): boolean {
    return this.tokens !== null
  }

  /**
   * Watch every response (e.g. the people domain looks for `Fengqiao-Wipe: requested`). An observer
   * must not read the body (clone it if it must) and must not throw; returns the unsubscribe.
   */
  observe(fn: ResponseObserver): () => void {
    this.observers.add(fn)
    return () => this.observers.delete(fn)
  }

  // ---- auth endpoints -------------------------------------------------------------------------

  async login(username: string, password: string, deviceName: string): Promise<AuthResponse> {
    const res = await this.send('POST', '/auth/login', { username, password, device_name: deviceName }, null)
    if (!res.ok) throw await ApiError.fromResponse(res)
    const data = (await res.json()) as AuthResponse
    await this.adopt(data)
    return data
  }

  /** Tells the server to drop this device's refresh token (best effort), then forgets the tokens. */
  async logout(): Promise<void> {
    const t = this.tokens
    this.tokens = null
    if (!t) return
    try {
      const res = await this.send('POST', '/auth/logout', undefined, t.accessToken)
      if (!res.ok && res.status !== 401) throw await ApiError.fromResponse(res)
    } finally {
      this.tokens = null
    }
  }

  me(): Promise<User> {
    return this.get<User>('/me')
  }

  /**
   * Exchanges the refresh token for new tokens. Single-flight: while one refresh runs, every caller
   * gets the same promise.
   */
  refresh(): Promise<Tokens> {
    if (!this.refreshing) {
      const run = () => this.doRefresh()
      const p = this.opts.withLock ? this.opts.withLock(run) : run()
      this.refreshing = p.finally(() => {
        this.refreshing = null
      })
    }
    return this.refreshing
  }

  // ---- generic requests -----------------------------------------------------------------------

  get<T>(path: string, opts: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('GET', path, opts)
  }

  post<T>(path: string, body?: unknown, opts: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body })
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts)
    if (!res.ok) throw await ApiError.fromResponse(res)
    if (res.status === 204 || res.headers.get('Content-Length') === '0' || method === 'HEAD') return undefined as T
    const type = res.headers.get('Content-Type') ?? ''
    return (type.includes('json') ? await res.json() : await res.text()) as T
  }

  /**
   * The response as it comes, for callers that read statuses and headers themselves (uploads,
   * sync). Handles the token (proactive refresh, one retry after auth.token_expired) and ends the
   * session on any other 401; every other status is returned, not thrown.
   */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const auth = opts.auth ?? true
    if (auth) await this.ensureFresh()
    let used = auth ? this.requireTokens().accessToken : null
    let res = await this.send(method, path, opts.body, used, opts.headers, opts.signal)

    if (res.status === 401 && auth) {
      const err = await ApiError.fromResponse(res)
      if (err.code !== AUTH_TOKEN_EXPIRED) return this.failAuth(err)
      // Another caller may have refreshed while this request was in flight: then just retry.
      if (this.tokens && this.tokens.accessToken === used) await this.refresh()
      used = this.requireTokens().accessToken
      res = await this.send(method, path, opts.body, used, opts.headers, opts.signal)
      if (res.status === 401) return this.failAuth(await ApiError.fromResponse(res))
    }
    return res
  }

  /** Refresh ahead of expiry. If that fails for lack of network, go on while the token still lives. */
  async ensureFresh(): Promise<void> {
    const t = this.requireTokens()
    if (this.now() < t.accessRefreshAt) return
    try {
      await this.refresh()
    } catch (e) {
      if (e instanceof NetworkError && this.tokens && this.now() < this.tokens.accessExpiresAt) return
      throw e
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  private requireTokens(): Tokens {
    if (!this.tokens) throw new ApiError(401, 'auth.not_signed_in', '请先登录。', 'Not signed in')
    return this.tokens
  }

  private async doRefresh(): Promise<Tokens> {
    const before = this.requireTokens()
    if (this.opts.reloadTokens) {
      const stored = await this.opts.reloadTokens()
      if (stored && stored.refreshToken !== before.refreshToken) {
        // Another tab rotated the tokens already; presenting our old refresh token would fail.
        this.tokens = stored
        if (this.now() < stored.accessRefreshAt) return stored
      }
    }
    const current = this.requireTokens()
    const res = await this.send('POST', '/auth/refresh', { refresh_token: current.refreshToken }, null)
    if (!res.ok) {
      const err = await ApiError.fromResponse(res)
      if (res.status === 401 || res.status === 403) return this.failAuth(err)
      throw err
    }
    const data = (await res.json()) as AuthResponse
    return this.adopt(data)
  }

  private async adopt(data: AuthResponse): Promise<Tokens> {
    const tokens = tokensFrom(data, this.now())
    this.tokens = tokens
    await this.opts.onTokens?.(tokens, data.user)
    return tokens
  }

  /** A 401 that refreshing cannot fix: the session is over. Notify, then throw a clear error. */
  private async failAuth(err: ApiError): Promise<never> {
    const revoked = err.code === AUTH_DEVICE_REVOKED
    const shown = new ApiError(
      err.status,
      err.code,
      revoked ? MSG_DEVICE_REVOKED : err.message || MSG_SESSION_EXPIRED,
      err.messageEn,
      err.retryAfter,
    )
    if (this.tokens) {
      this.tokens = null
      await this.opts.onSessionEnded?.(revoked ? 'revoked' : 'expired', shown)
    }
    throw shown
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    accessToken: string | null,
    extraHeaders: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders }
    if (accessToken) headers.Authorization = `Bearer ${accessToken}`
    let payload: BodyInit | undefined
    if (body !== undefined) {
      if (body instanceof Blob || body instanceof ArrayBuffer || body instanceof FormData) {
        payload = body
      } else {
        headers['Content-Type'] = 'application/json'
        payload = JSON.stringify(body)
      }
    }
    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs)
    const onAbort = () => timeout.abort()
    // Stays linked after the headers arrive, so the caller can still cancel a streamed body.
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const res = await this.fetchFn(this.baseUrl + path, {
        method,
        headers,
        body: payload,
        signal: timeout.signal,
        credentials: 'same-origin',
        cache: 'no-store',
      })
      for (const fn of this.observers) {
        try {
          fn(res, method, path)
        } catch (e) {
          console.warn('api: a response observer failed', e)
        }
      }
      return res
    } catch (e) {
      signal?.removeEventListener('abort', onAbort)
      if (signal?.aborted) throw e // the caller cancelled: not a network problem
      if (timeout.signal.aborted) throw new NetworkError(MSG_TIMEOUT, true)
      throw new NetworkError()
    } finally {
      clearTimeout(timer)
    }
  }
}
