/**
 * Photo upload by the media protocol (backend/media/routes.py): ask with HEAD, then send whole or in
 * chunks with Content-Range, continuing from the server's offset after a cut. A photo is stored
 * under its SHA-256, so a resend never uploads twice.
 */
import { ApiError } from '../core/errors'
import type { PhotoRow } from './types'

export interface RawApi {
  raw(method: string, path: string, opts?: { body?: unknown; headers?: Record<string, string> }): Promise<Response>
}

/** Small chunks: on 2G a 128 KB request finishes; a cut costs at most one chunk. */
export const CHUNK = 128 * 1024

export type UploadOutcome = 'uploaded' | 'rejected'

export class PhotoRejected extends Error {
  constructor(readonly code: string, message: string) {
    super(message)
  }
}

async function serverOffset(api: RawApi, sha: string): Promise<number | 'complete'> {
  const res = await api.raw('HEAD', `/media/${sha}`)
  if (res.status === 404) return 0
  if (!res.ok) throw await ApiError.fromResponse(res)
  if (res.headers.get('Upload-Complete') === '?1' || res.headers.get('X-Media-Status') === 'complete') return 'complete'
  return Number(res.headers.get('Upload-Offset') ?? 0) || 0
}

/**
 * Makes sure the server holds the photo. Throws NetworkError / ApiError on trouble that a retry
 * may fix, PhotoRejected when the server will never take these bytes (415/422).
 */
export async function uploadPhoto(api: RawApi, photo: PhotoRow, onProgress?: (fraction: number) => void): Promise<void> {
  const sha = photo.sha256
  const total = photo.blob.size
  let start = await serverOffset(api, sha)
  if (start === 'complete') return onProgress?.(1)
  let restarts = 0
  for (;;) {
    const end = Math.min(total, start + CHUNK)
    const whole = start === 0 && end === total
    const headers: Record<string, string> = { 'Content-Type': 'image/jpeg' }
    if (!whole) headers['Content-Range'] = `bytes ${start}-${end - 1}/${total}`
    const res = await api.raw('PUT', `/media/${sha}`, { body: photo.blob.slice(start, end, 'image/jpeg'), headers })
    if (res.status === 200 || res.status === 201) return onProgress?.(1)
    if (res.status === 202) {
      start = Number(res.headers.get('Upload-Offset') ?? end) || end
      onProgress?.(start / total)
      continue
    }
    const err = await ApiError.fromResponse(res)
    if (err.code === 'media.offset_mismatch') {
      start = Number(res.headers.get('Upload-Offset') ?? 0) || 0
      continue
    }
    if (err.code === 'media.hash_mismatch' && restarts++ < 1) {
      start = 0
      continue
    }
    if (res.status === 415 || res.status === 422 || err.code === 'media.too_large' || err.code === 'media.hash_mismatch') {
      throw new PhotoRejected(err.code, err.message)
    }
    throw err
  }
}
