/**
 * The deletion subject lives with the other stores (stores/subjects.ts), so the intake can find
 * a running deletion by email once the account row is gone; the activities use it from here.
 */
export * from '../../stores/subjects';
