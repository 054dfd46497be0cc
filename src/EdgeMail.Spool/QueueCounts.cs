namespace EdgeMail.Spool;

/// <summary>
/// The queue at a glance (<see cref="MessageSpool.Count"/>). <paramref name="Deferred"/>: not held and tried at least
/// once; <paramref name="Due"/>: not held and due now (new, or its retry time has come); <paramref name="Failing"/>:
/// not held, tried, and waiting for a retry after an error; <paramref name="Removed"/>: messages that have left the
/// queue (delivered, bounced or deleted) since the spool was opened — a counter, so two looks tell how many went.
/// </summary>
public readonly record struct QueueCounts(int Total, int Held, int Deferred, int Due, int Failing, long Removed);
