/** Adding photos on the phone: shrink, hash, keep in IndexedDB until uploaded. */
import { db } from '../core/db'
import { processPhoto } from '../core/image'

export const MAX_PHOTOS = 9

export async function addPhotos(files: File[], onProgress: (done: number, total: number) => void): Promise<{ shas: string[]; errors: number }> {
  const shas: string[] = []
  let errors = 0
  for (const [i, f] of files.entries()) {
    onProgress(i, files.length)
    try {
      const p = await processPhoto(f)
      if (!(await db.photos.get(p.sha256))) {
        await db.photos.put({ sha256: p.sha256, blob: p.blob, thumb: p.thumb, width: p.width, height: p.height, bytes: p.blob.size, uploaded: 0, createdAt: Date.now() })
      }
      shas.push(p.sha256)
    } catch (e) {
      console.warn('photo: could not process', e)
      errors++
    }
  }
  onProgress(files.length, files.length)
  return { shas, errors }
}
