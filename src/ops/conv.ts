// Placeholder: filled in by the op family's owner.
