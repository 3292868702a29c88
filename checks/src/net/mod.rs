//! Shared network logic used by several checks.
