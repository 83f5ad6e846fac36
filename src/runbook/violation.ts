/** A rule the spec or the observed platform breaks: nothing of the plan runs until it is fixed. */
export interface Violation {
  /** Condition reason, CamelCase. */
  reason: string;
  /** What is wrong and what to change. */
  message: string;
}
