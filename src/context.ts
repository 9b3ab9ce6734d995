/** Who is asking: every group operation is scoped by it. */
export interface RequestContext {
  readonly userId: string;
  readonly projectId: string;
  /** Admins see and act on every project's groups; others only their own project's. */
  readonly isAdmin: boolean;
}

export function requestContext(userId: string, projectId: string, isAdmin = false): RequestContext {
  return { userId, projectId, isAdmin };
}

/** The context of a service acting for itself (the migration, the CLI). */
export const ADMIN_CONTEXT: RequestContext = { userId: 'admin', projectId: 'admin', isAdmin: true };
