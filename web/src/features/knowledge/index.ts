export { KnowledgeItemPage, KnowledgeSearchPage, Snippet } from './KnowledgePages';
