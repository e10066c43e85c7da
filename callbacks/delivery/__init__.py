"""The delivery pipeline, in the order a delivery goes through it.

  wake     a committed event queues a wake (coalesced); a lasting backlog asks for help
  claim    a dispatcher leases due deliveries, each profile only what it has room for
  render   template, parameter encryption, batching, signing: the request as sent
  send     the event-loop HTTP client and its network (SSRF) guard
  record   outcomes classified, attempts and states written in bulk, rollups, profile health
  engine   the loop that ties them: claim, render, send, record, until nothing is due

`retention` purges old attempts; `sql` and `ids` serve the bulk statements. Nothing here imports
the services, the API or the admin: announcements go up through `callbacks.signals`.
"""
