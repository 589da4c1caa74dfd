//! sg-testkit: part of the sg scatter-gather workspace (not yet built).
