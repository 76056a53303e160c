/** One mail to a person and its line in lethe.outbound_mail: mail/deliver.ts (the API sends through it too). */
export { deliver, type OutgoingMail } from '../../mail/deliver';
