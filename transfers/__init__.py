"""The care-transfer domain: client paths, Leefhuis places, the phase-out plan, the service."""
