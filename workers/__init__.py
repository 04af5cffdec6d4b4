"""RQ jobs and their wiring. Jobs are thin: each is a query or one call into the domain."""
