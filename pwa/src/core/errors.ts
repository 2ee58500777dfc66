/**
 * Errors the api client throws. Every one carries a Chinese `message` fit to show to the user.
 * Server errors keep the server's stable `code` (e.g. "auth.token_expired").
 */

export const AUTH_TOKEN_EXPIRED = 'auth.token_expired'
export const AUTH_DEVICE_REVOKED = 'auth.device_revoked'

export const MSG_OFFLINE = '网络不可用，请检查网络连接后重试。'
export const MSG_TIMEOUT = '网络太慢或服务器无响应，请稍后重试。'
export const MSG_SERVER_DOWN = '服务器暂时不可用，请稍后重试。'
export const MSG_DEVICE_REVOKED = '此设备已被管理员停用，请重新登录'
export const MSG_SESSION_EXPIRED = '登录已过期，请重新登录。'

/** The server answered with an error status. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly messageEn: string
  /** Seconds to wait, from Retry-After (429, 503), if the server sent one. */
  readonly retryAfter: number | null

  constructor(status: number, code: string, message: string, messageEn = '', retryAfter: number | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.messageEn = messageEn
    this.retryAfter = retryAfter
  }

  /** Builds the error from a non-2xx response: `{code, message, message_en}` when the body is JSON. */
  static async fromResponse(res: Response): Promise<ApiError> {
    const retryAfter = parseRetryAfter(res.headers.get('Retry-After'))
    let body: unknown = null
    try {
      body = await res.json()
    } catch {
      /* not JSON: a proxy page or an empty body */
    }
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>
    const code = typeof b.code === 'string' ? b.code : `http.${res.status}`
    const message = typeof b.message === 'string' && b.message ? b.message : fallbackMessage(res.status, retryAfter)
    const messageEn = typeof b.message_en === 'string' ? b.message_en : res.statusText
    return new ApiError(res.status, code, message, messageEn, retryAfter)
  }
}

/** The request never got an answer: offline, DNS failure, server unreachable or timed out. */
export class NetworkError extends Error {
  readonly timedOut: boolean
  constructor(message = MSG_OFFLINE, timedOut = false) {
    super(message)
    this.name = 'NetworkError'
    this.timedOut = timedOut
  }
}

export function isApiError(e: unknown, code?: string): e is ApiError {
  return e instanceof ApiError && (code === undefined || e.code === code)
}

/** True when the error means "no connection" rather than "the server said no". */
export function isOffline(e: unknown): boolean {
  return e instanceof NetworkError || (e instanceof ApiError && [502, 503, 504].includes(e.status) && e.code.startsWith('http.'))
}

/** A Chinese message for any thrown value. */
export function userMessage(e: unknown): string {
  if (e instanceof ApiError || e instanceof NetworkError) return e.message
  return '出现意外错误，请重试。'
}

function parseRetryAfter(v: string | null): number | null {
  if (!v) return null
  const n = Number(v)
  if (Number.isFinite(n)) return Math.max(0, n)
  const t = Date.parse(v)
  return Number.isNaN(t) ? null : Math.max(0, Math.round((t - Date.now()) / 1000))
}

function fallbackMessage(status: number, retryAfter: number | null): string {
  if (status === 429) return retryAfter ? `请求过于频繁，请 ${retryAfter} 秒后重试。` : '请求过于频繁，请稍后重试。'
  if (status === 401) return MSG_SESSION_EXPIRED
  if (status === 403) return '没有权限执行此操作。'
  if (status === 404) return '未找到请求的内容。'
  if (status === 502 || status === 503 || status === 504) return MSG_SERVER_DOWN
  if (status >= 500) return '服务器出错，请稍后重试。'
  return `请求失败（${status}），请重试。`
}
