import type { User } from '../people/types'

/** Body of 200 responses from POST /api/auth/login and POST /api/auth/refresh. */
export interface AuthResponse {
  access_token: string
  refresh_token: string
  token_type: 'bearer'
  /** Seconds until the access token expires. */
  expires_in: number
  /** Seconds until the (rotated) refresh token expires. */
  refresh_expires_in: number
  user: User
  /** Signed in with a one-time password: the user must set a new one before anything else. */
  must_change_password?: boolean
}

/** Tokens as the client keeps them: absolute times (epoch ms, phone clock) instead of durations. */
export interface Tokens {
  accessToken: string
  /** When the access token expires. */
  accessExpiresAt: number
  /** When to refresh proactively: a little before accessExpiresAt. */
  accessRefreshAt: number
  refreshToken: string
  refreshExpiresAt: number
}
