package notify

// ClaimedNotDone reports how many deliveries d has claimed and not yet
// finished attempting: those under way and those claimed ahead.
func ClaimedNotDone(d *Dispatcher) int { return len(d.slots) + len(d.beyond) }
