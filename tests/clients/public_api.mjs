// Calls every public-API method of the unmodified `statuspage.io` client against the base URL
// given as the first argument, and prints what each returned as one JSON object.
import { Statuspage } from "statuspage.io";

const client = new Statuspage("selfhosted");
client.setApiUrl(process.argv[2]);

const results = {
  summary: await client.api.getSummary(),
  status: await client.api.getStatus(),
  components: await client.api.getComponents(),
  incidents: await client.api.incidents.getAll(),
  unresolved: await client.api.incidents.getUnresolved(),
  upcoming: await client.api.scheduledMaintenances.getUpcoming(),
};
process.stdout.write(JSON.stringify(results));
