// Package simulate generates a deterministic synthetic organisation and its
// event streams (event contract v1: security, deployment, CRM, support and
// catalog CloudEvents) with planted, documented effects and realistic
// delivery mess, plus the realised ground truth (Truth) that the analyst
// contract tables must reproduce exactly.
//
// The same Options (seed, days, end, scale, params) always produce the same
// bytes. See docs/simulation.md for the organisation and the planted effects.
package simulate
