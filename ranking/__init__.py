"""Pure ranking logic: interest vectors, candidate blending, rules, reasons. No I/O."""
