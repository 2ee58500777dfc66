/** The inbox: notifications from the server (the truth; push is only a nudge). */
export interface InboxRow {
  id: string
  title: string
  body: string
  url: string
  kind: string
  createdAt: string
  readAt: string | null
  /** Marked read on the phone, not yet told to the server. */
  readPending?: boolean
}
