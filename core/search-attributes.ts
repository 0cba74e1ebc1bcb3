/** Typed keys of mend's custom search attributes (registered as in constants.SEARCH_ATTRIBUTES). */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const MendComponents = defineSearchAttributeKey('MendComponents', SearchAttributeType.KEYWORD_LIST);
export const MendStrategy = defineSearchAttributeKey('MendStrategy', SearchAttributeType.KEYWORD);
export const MendPhase = defineSearchAttributeKey('MendPhase', SearchAttributeType.KEYWORD);
export const MendOutcome = defineSearchAttributeKey('MendOutcome', SearchAttributeType.KEYWORD);
export const MendTrigger = defineSearchAttributeKey('MendTrigger', SearchAttributeType.KEYWORD);
