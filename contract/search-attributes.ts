/**
 * Lethe's custom search attributes: what an operator filters on in the Web UI's list, e.g.
 * `LetheOverdue = true` or `LetheStatus = "running" AND LetheDeadline < "2026-12-01T00:00:00Z"`.
 * Ids only: search attributes are stored in plain text, so never an email or a name.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const LetheAccountId = defineSearchAttributeKey('LetheAccountId', SearchAttributeType.KEYWORD);
export const LetheStatus = defineSearchAttributeKey('LetheStatus', SearchAttributeType.KEYWORD);
export const LetheChannel = defineSearchAttributeKey('LetheChannel', SearchAttributeType.KEYWORD);
export const LetheDeadline = defineSearchAttributeKey('LetheDeadline', SearchAttributeType.DATETIME);
export const LetheDeadlineWarning = defineSearchAttributeKey('LetheDeadlineWarning', SearchAttributeType.BOOL);
export const LetheOverdue = defineSearchAttributeKey('LetheOverdue', SearchAttributeType.BOOL);

/** Name → server type, as `temporal server start-dev --search-attribute` and the operator API take them. */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'Datetime' | 'Bool'> = {
  LetheAccountId: 'Keyword',
  LetheStatus: 'Keyword',
  LetheChannel: 'Keyword',
  LetheDeadline: 'Datetime',
  LetheDeadlineWarning: 'Bool',
  LetheOverdue: 'Bool',
};
