export {
  type CampaignFigures,
  type CampaignOptions,
  type CampaignResult,
  checkRun,
  runCampaign,
} from "./campaign.js";
export { type CheckVerdict, runChecks } from "./checks.js";
