// Saves a task with a reviewer through the official Skygear SDK, as an app would; `review-task` runs in the
// `skyflow dev` log. Run it beside `npx skyflow dev`: node examples/save-task.mjs
import skygear from "skygear";

const endPoint = process.env.SKYGEAR_ENDPOINT ?? "http://127.0.0.1:3000/";
const apiKey = process.env.SKYGEAR_API_KEY ?? "skyflow-dev-api-key";

// Saving needs no pubsub socket, and an open one would keep Node running after the save.
skygear.pubsub.autoPubsub = false;
await skygear.config({ endPoint, apiKey });
const user = await skygear.auth.signupAnonymously();
const Task = skygear.Record.extend("task");
const task = await skygear.publicDB.save(
  new Task({ title: "Sales report", status: "open", reviewer: new skygear.Reference(`user/${user._id}`) }),
);
console.log(`saved ${task.id} with reviewer ${user._id}; see review-task run in the skyflow dev log`);
