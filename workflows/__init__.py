"""The state changes of the program, one module per aggregate. Each public function owns its
transaction and enqueues the e-mails it causes, so a change and its mail commit together."""
