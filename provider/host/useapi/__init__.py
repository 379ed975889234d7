"""The useapi.net v2 PixVerse accounts API: the HTTP client (`client`), the tolerant reader of
its answers (`answers`) and what each status means (`status`). Kept apart from the resource's
lifecycle so that the provider speaks in accounts, not in status codes."""
